#!/usr/bin/env python3
"""Benchmark the post-mortem library's search and the "seen before" lookup over 10,000.

Starts `watchbill serve` (release build) on a fresh SQLite file (or the PostgreSQL database
given with --database-url, which should be empty), opens and resolves 10,000 incidents on five
services through the Events API, writes a post-mortem of each through the REST API (a title
from a small vocabulary of symptoms and components, three tags, and a body of about 1.5 kB in
the template's sections, its words drawn like natural text from the domain's words and 4,000
others), then measures over loopback, one request at a time:

- library searches (`GET /api/v1/post-mortems?q=…`, 24 queries of one to three words, some with
  a tag or service filter), and the list without text;
- the "seen before" lookup for an incident (`GET /api/v1/incidents/{id}/seen-before`), against
  `GET /api/v1/incidents/{id}` — the same request path without the lookup — so that the
  difference is what the lookup adds to a page.

Usage: python3 bench/post_mortems.py [--binary target/release/watchbill] [--count 10000]
"""
import argparse
import http.client
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from server import TOKEN, request, start

SYMPTOMS = ["timeouts", "latency", "errors", "outage", "crash", "memory leak", "disk full",
            "certificate expiry", "slow queries", "dropped messages", "stale cache", "failover"]
COMPONENTS = ["video CDN", "quiz engine", "upload workers", "payment gateway", "search index",
              "login service", "course catalogue", "notification queue", "database primary",
              "analytics pipeline", "DNS", "load balancer", "image resizer", "mail relay"]
DOMAIN = ("the on-call captain saw alerts from the monitoring and paged the first mate after the "
          "error rate rose while customers could not open lessons so we rolled back the deploy and "
          "purged caches then checked replicas restarted workers raised limits and wrote tickets "
          "for retries backoff dashboards runbooks capacity quotas alerts thresholds owners").split()


def vocabulary(rng, size=4000):
    """The domain's words and `size` made-up ones, weighted like natural text (Zipf): a few
    words are everywhere, most are rare."""
    letters = "abcdefghiklmnoprstuvw"
    made_up = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]
    words = DOMAIN + made_up
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return words, weights


def body(rng, title, words):
    def paragraph(n):
        return " ".join(rng.choices(words[0], words[1], k=n)).capitalize() + "."
    return (f"## Summary\n\n{title}. {paragraph(40)}\n\n## Impact\n\n{paragraph(30)}\n\n"
            f"## Root cause\n\n{paragraph(40)}\n\n## What went well\n\n{paragraph(15)}\n\n"
            f"## What went wrong\n\n{paragraph(20)}\n\n## Action items\n\n- {paragraph(8)}\n\n"
            f"## How to tackle it next time\n\n{paragraph(30)}\n")


class Client:
    """One keep-alive connection with the admin token."""

    def __init__(self, url):
        parsed = urllib.parse.urlparse(url)
        self.connection = http.client.HTTPConnection(parsed.hostname, parsed.port)

    def call(self, method, path, payload=None):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        data = None
        if payload is not None:
            data = json.dumps(payload)
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, data, headers)
        response = self.connection.getresponse()
        text = response.read()
        if response.status == 429:
            time.sleep(0.05)
            return self.call(method, path, payload)
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {text[:300]}")
        return json.loads(text or b"null")


def in_threads(url, items, work, threads=8):
    chunks = [items[i::threads] for i in range(threads)]

    failures = []

    def worker(chunk):
        try:
            client = Client(url)
            for item in chunk:
                work(client, item)
        except BaseException as failure:  # a thread's failure must stop the benchmark
            failures.append(failure)

    workers = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise SystemExit(f"{len(failures)} worker(s) failed: {failures[0]}")


def measure(url, paths, rounds):
    """Latencies in ms of GETs of `paths`, cycled `rounds` times, one at a time."""
    client = Client(url)
    for path in paths:
        client.call("GET", path)
    times = []
    for _ in range(rounds):
        for path in paths:
            start = time.perf_counter()
            client.call("GET", path)
            times.append((time.perf_counter() - start) * 1000)
    return times


def report(name, times):
    ordered = sorted(times)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    print(f"{name}: n={len(times)} p50 {p(0.50):.2f} ms, p90 {p(0.90):.2f} ms, "
          f"p99 {p(0.99):.2f} ms, max {ordered[-1]:.2f} ms")
    return p(0.99)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/watchbill")
    parser.add_argument("--database-url")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--keep", help="a directory to leave the SQLite file in, for a look afterwards")
    args = parser.parse_args()
    rng = random.Random(42)
    workdir = args.keep or tempfile.mkdtemp(prefix="watchbill-bench-")
    database = args.database_url or f"sqlite://{workdir}/bench.db"
    server, url, _ = start(args.binary, database)
    try:
        team = request(f"{url}/api/v1/teams", "POST", {"name": "Product", "members": []})
        services, keys = [], []
        for name in ["Course platform", "Payments", "Search", "Accounts", "Media"]:
            service = request(f"{url}/api/v1/services", "POST", {"team_id": team["id"], "name": name})
            integration = request(f"{url}/api/v1/services/{service['id']}/integrations", "POST", {"kind": "events_v2", "rate_per_minute": 1000000})
            services.append(service["id"])
            keys.append(integration["key"])
        titles = [f"{rng.choice(COMPONENTS).capitalize()} {rng.choice(SYMPTOMS)} #{i}" for i in range(args.count)]
        started = time.time()
        events = [{"routing_key": keys[i % len(keys)], "event_action": action, "dedup_key": f"pm-{i}",
                   "payload": {"summary": titles[i], "source": "bench", "severity": "error"}}
                  for action in ["trigger", "resolve"] for i in range(args.count)]
        in_threads(url, events[:args.count], lambda c, e: c.call("POST", "/v2/enqueue", e))
        in_threads(url, events[args.count:], lambda c, e: c.call("POST", "/v2/enqueue", e))
        incidents = []
        before = None
        while len(incidents) < args.count:
            query = "/api/v1/incidents?limit=1000" + (f"&before={before}" if before else "")
            page = request(url + query)
            if not page:
                break
            incidents += page
            before = page[-1]["id"]
        print(f"{len(incidents)} incidents opened and resolved in {time.time() - started:.1f} s")

        started = time.time()
        words = vocabulary(rng)
        tags = ["cdn", "database", "network", "deploy", "capacity", "security", "third-party", "cache"]

        def write(client, incident):
            created = client.call("POST", "/api/v1/post-mortems", {
                "incidents": [incident["number"]], "tags": rng.sample(tags, 3)})
            client.call("PATCH", f"/api/v1/post-mortems/{created['id']}",
                        {"body": body(rng, incident["title"], words), "status": "published"})

        in_threads(url, incidents, write)
        elapsed = time.time() - started
        print(f"{len(incidents)} post-mortems written and published in {elapsed:.1f} s "
              f"({len(incidents) / elapsed:.0f}/s)")

        if database.startswith("postgres"):
            # What autovacuum and the checkpointer do within a minute or so of a burst of writes:
            # statistics for the planner, a clean visibility map, and the writes flushed, so
            # that a checkpoint does not land in the middle of the measurement.
            subprocess.run(["psql", database, "-qc", "VACUUM ANALYZE", "-c", "CHECKPOINT"], check=True)
        queries = ["video", "cdn timeouts", "quiz engine crash", "payment", "memory leak", "slow queries",
                   "certificate", "rolled back deploy", "replicas", "stale cache purged", "dns", "failover",
                   "load balancer errors", "upload workers", "runbooks", "login", "disk full", "retries backoff",
                   "mail relay latency", "catalogue", "notification queue dropped", "image resizer", "analytics",
                   "thresholds owners"]
        paths = [f"/api/v1/post-mortems?q={urllib.parse.quote(q)}&limit=20" for q in queries]
        paths += [f"/api/v1/post-mortems?q={urllib.parse.quote(q)}&tag=cdn&limit=20" for q in queries[:4]]
        paths += [f"/api/v1/post-mortems?q={urllib.parse.quote(q)}&service={services[1]}&limit=20" for q in queries[4:8]]
        print()
        search = report("library search (32 queries, 20 results each)", measure(url, paths, args.rounds))
        report("library without text (newest 50)", measure(url, ["/api/v1/post-mortems"], 200))
        sample = rng.sample(incidents, 50)
        seen = report("seen before: GET /api/v1/incidents/{id}/seen-before",
                      measure(url, [f"/api/v1/incidents/{i['id']}/seen-before" for i in sample], 20))
        plain = report("the same path without the lookup: GET /api/v1/incidents/{id}",
                       measure(url, [f"/api/v1/incidents/{i['id']}" for i in sample], 20))
        print(f"\nsearch p99 {search:.2f} ms (target under 30 ms); the lookup adds "
              f"{seen - plain:.2f} ms at p99 (target under 5 ms)")
    finally:
        server.terminate()
        server.wait()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
