#!/usr/bin/env python3
"""Times importing a Jira CSV export of 10,000 tickets into a running binary.

Starts `target/release/watchbill serve` on a fresh SQLite file (or the PostgreSQL database
given with --postgres, emptied first), gives a team a ticket prefix, and posts a generated CSV
to `POST /api/v1/teams/{id}/tickets/import`, reporting the wall time of the request.

Usage: python3 bench/import.py [--rows 10000] [--postgres URL]
"""
import argparse
import csv
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

TOKEN = "bench-bootstrap-token-0123456789"


def api(url, method="GET", body=None, content_type="application/json"):
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=600) as response:
        return json.loads(response.read() or b"null")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/watchbill")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--postgres")
    parser.add_argument("--filter-seconds", type=int, default=0,
                        help="then drive GET /api/v1/tickets with the duty filter for this long with wrk")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="watchbill-import-")
    if args.postgres:
        subprocess.run(["psql", args.postgres, "-qc", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"], check=True,
                       stderr=subprocess.DEVNULL)
        database = args.postgres
    else:
        database = f"sqlite://{workdir}/import.db"
    env = dict(os.environ, WATCHBILL_BOOTSTRAP_TOKEN=TOKEN, WATCHBILL_LOG="warn")
    server = subprocess.Popen([args.binary, "serve", "--listen", "127.0.0.1:0", "--smtp-listen", "127.0.0.1:0", "--database-url", database],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        for line in server.stdout:
            match = re.search(r"is listening on (\S+)", line)
            if match:
                url = match.group(1)
            if line.strip() == "Press Ctrl-C to stop.":
                break
        api(f"{url}/api/v1/users", "POST", {"name": "Ada", "email": "ada@bench.test"})
        team = api(f"{url}/api/v1/teams", "POST", {"name": "Bench"})
        api(f"{url}/api/v1/teams/{team['id']}/ticket-settings", "PUT", {"prefix": "BN"})
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["Summary", "Issue key", "Issue Type", "Status", "Priority", "Assignee", "Due Date", "Labels",
                         "Labels", "Description"])
        priorities = ["Highest", "High", "Medium", "Low", "Lowest"]
        statuses = ["To Do", "In Progress", "Done", "To Do"]
        for n in range(args.rows):
            writer.writerow([f"Ticket {n}", f"OLD-{n}", ["Bug", "Story", "Task"][n % 3], statuses[n % 4],
                             priorities[n % 5], "ada@bench.test" if n % 2 else "", f"2026-12-{1 + n % 28:02d}",
                             "product-maintenance-duty" if n % 2 else "", "imported", f"Description of ticket {n}"])
        body = out.getvalue().encode()
        started = time.time()
        report = api(f"{url}/api/v1/teams/{team['id']}/tickets/import", "POST", body, "text/csv")
        elapsed = time.time() - started
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(f"imported {report['imported']} tickets ({len(body) / 1e6:.1f} MB CSV) on {backend} in {elapsed:.2f} s")
        if args.filter_seconds:
            query = urllib.parse.quote(
                "label = product-maintenance-duty AND status != closed AND due < \"+14d\" ORDER BY priority DESC, due ASC")
            out = subprocess.run(
                ["wrk", "-t1", "-c1", f"-d{args.filter_seconds}s", "--latency", "-H", f"Authorization: Bearer {TOKEN}",
                 f"{url}/api/v1/tickets?limit=50&filter={query}"], capture_output=True, text=True, check=True).stdout
            p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
            p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
            print(f"duty filter over {report['imported']} tickets, first 50: {float(rps):.0f} requests/s, p50 {p50}, p99 {p99}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
