#!/usr/bin/env python3
"""Benchmark the web pages' server time with 10,000 incidents and 200 users.

Starts `watchbill serve` (release build) on a fresh SQLite file (or the PostgreSQL database
given with --database-url, which should be empty), applies 20 teams of 10 people with a
Captain On-Call and a First-mate each, one service per team, and opens 10,000 incidents
through the Events API, of which all but 200 are then resolved. It signs in through the sign-in
form and drives, one at a time with wrk over loopback, the wall (`/wall/board`, what the live
wall fetches, and `/wall`), the incident list (`/incidents`, the open ones, and
`/incidents?status=all`, the newest 50 of all) and one incident's page, printing each latency
distribution.

Usage: python3 bench/web.py [--binary target/release/watchbill] [--duration 10] [--connections 1]
"""
import argparse
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from server import request, start

PASSWORD = "benchmark password"


def organisation(teams, people):
    users, org_teams, schedules = [], [], []
    for t in range(teams):
        emails = [f"user{t}-{p}@bench.test" for p in range(people)]
        users += [{"name": f"User {t}-{p}", "email": email} for p, email in enumerate(emails)]
        org_teams.append({"name": f"Team {t}", "members": emails})
        for offset, name in enumerate(["Captain On-Call", "First-mate"]):
            schedules.append({
                "team": f"Team {t}", "name": name, "time_zone": "America/Los_Angeles",
                "layers": [{"name": "Weekly", "participants": emails, "turn": "1w",
                            "handoff": "Wednesday 10:00", "start": "2026-01-07T18:00:00Z",
                            "offset": offset}],
            })
    return {"users": users, "teams": org_teams, "schedules": schedules}


def send_events(url, events, threads=8):
    """Posts Events API bodies over keep-alive connections from several threads."""
    parsed = urllib.parse.urlparse(url)
    chunks = [events[i::threads] for i in range(threads)]

    def worker(chunk):
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port)
        for event in chunk:
            connection.request("POST", "/v2/enqueue", json.dumps(event), {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                raise SystemExit(f"event refused: {response.status}")

    workers = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def sign_in(url, email):
    body = urllib.parse.urlencode({"email": email, "password": PASSWORD, "next": "/now"}).encode()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(urllib.request.Request(f"{url}/login", data=body, method="POST"))
    except urllib.error.HTTPError as redirect:
        cookie = redirect.headers.get("Set-Cookie", "")
        return cookie.split(";")[0]
    raise SystemExit("sign-in did not redirect")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/watchbill")
    parser.add_argument("--database-url")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--incidents", type=int, default=10_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    workdir = tempfile.mkdtemp(prefix="watchbill-bench-")
    database = args.database_url or f"sqlite://{workdir}/bench.db"
    server, url, _ = start(args.binary, database)
    try:
        request(f"{url}/api/v1/apply", "POST", organisation(20, 10))
        users = request(f"{url}/api/v1/users")
        teams = request(f"{url}/api/v1/teams")
        keys = []
        for team in teams:
            service = request(f"{url}/api/v1/services", "POST", {"team_id": team["id"], "name": f"{team['name']} service"})
            integration = request(f"{url}/api/v1/services/{service['id']}/integrations", "POST", {"kind": "events_v2"})
            keys.append(integration["key"])
        started = time.time()
        triggers = [{"routing_key": keys[i % len(keys)], "event_action": "trigger", "dedup_key": f"alert-{i}",
                     "payload": {"summary": f"Alert {i}: latency above the objective on shard {i % 97}",
                                 "source": f"host-{i % 31}", "severity": "error"}}
                    for i in range(args.incidents)]
        send_events(url, triggers)
        open_left = 200
        resolves = [{"routing_key": keys[i % len(keys)], "event_action": "resolve", "dedup_key": f"alert-{i}"}
                    for i in range(args.incidents - open_left)]
        send_events(url, resolves)
        print(f"{args.incidents} incidents ({open_left} open) and {len(users)} users in {time.time() - started:.1f} s")
        person = users[0]
        request(f"{url}/api/v1/users/{person['id']}/password", "PUT", {"password": PASSWORD})
        cookie = sign_in(url, person["email"])
        incidents = request(f"{url}/api/v1/incidents?status=open&limit=1")
        pages = [
            ("the wall's board (what the live wall fetches)", "/wall/board"),
            ("the wall page", "/wall"),
            ("the incident list, open incidents", "/incidents"),
            ("the incident list, newest 50 of all", "/incidents?status=all"),
            ("an incident's page", f"/incidents/{incidents[0]['id']}"),
        ]
        for name, path in pages:
            wrk = subprocess.run(
                ["wrk", f"-t{min(2, args.connections)}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                 "-H", f"Cookie: {cookie}", f"{url}{path}"],
                capture_output=True, text=True, check=True)
            latency = re.search(r"Latency Distribution\n((?:\s+\d+%\s+\S+\n)+)", wrk.stdout)
            rate = re.search(r"Requests/sec:\s+(\S+)", wrk.stdout)
            non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk.stdout)
            print(f"\n{name}: GET {path}")
            print(latency.group(1).rstrip() if latency else wrk.stdout)
            print(f"  requests/s {rate.group(1) if rate else '?'}; non-2xx: {non_2xx.group(1) if non_2xx else 0}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
