#!/usr/bin/env python3
"""Benchmark `GET /api/v1/oncall` on a running binary with 500 schedules.

Starts `watchbill serve` (release build) on a fresh SQLite file, fills it through the API with
100 teams of 5 schedules each (two layers: a weekly rotation and a weekday-hours layer with
restrictions, plus two overrides per schedule), then drives the endpoint with wrk over
loopback and prints wrk's latency distribution. Also reports the idle server's resident
memory before the load.

Usage: python3 bench/oncall.py [--binary target/release/watchbill] [--duration 20]
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "bench-bootstrap-token-0123456789"


def request(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as response:
        return json.loads(response.read() or b"null")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def organisation(teams, per_team):
    users, org_teams, schedules = [], [], []
    for t in range(teams):
        people = [f"user{t}-{p}@bench.test" for p in range(6)]
        users += [{"name": f"User {t}-{p}", "email": email} for p, email in enumerate(people)]
        org_teams.append({"name": f"Team {t}", "members": people})
        for s in range(per_team):
            schedules.append({
                "team": f"Team {t}",
                "name": f"Schedule {s}",
                "time_zone": ["America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "UTC"][s % 4],
                "layers": [
                    {"name": "Weekly", "participants": people, "turn": "1w",
                     "handoff": "Wednesday 10:00", "start": "2026-01-07T18:00:00Z", "offset": s},
                    {"name": "Office hours", "participants": people[:3], "turn": "1d",
                     "handoff": "09:00", "start": "2026-01-05T00:00:00Z",
                     "restrictions": [{"days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
                                       "start": "09:00", "end": "17:00"}]},
                ],
            })
    return {"users": users, "teams": org_teams, "schedules": schedules}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/watchbill")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--perf", help="also record a perf profile of the server into this file")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    workdir = tempfile.mkdtemp(prefix="watchbill-bench-")
    env = dict(os.environ, WATCHBILL_BOOTSTRAP_TOKEN=TOKEN, WATCHBILL_LOG="warn")
    server = subprocess.Popen(
        [args.binary, "serve", "--listen", "127.0.0.1:0", "--smtp-listen", "127.0.0.1:0", "--database-url", f"sqlite://{workdir}/bench.db"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        for line in server.stdout:
            match = re.search(r"is listening on (\S+)", line)
            if match:
                url = match.group(1)
            if line.strip() == "Press Ctrl-C to stop.":
                break
        time.sleep(1)
        print(f"idle RSS after start: {rss_kib(server.pid) / 1024:.1f} MiB")
        report = request(f"{url}/api/v1/apply", "POST", organisation(100, 5))
        print(f"applied {len(report['changes'])} changes")
        schedules = request(f"{url}/api/v1/schedules")
        users = request(f"{url}/api/v1/users")
        now = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
        for i, schedule in enumerate(schedules):
            for k in range(2):
                # Spread over the two months around today, so some are current and some not.
                start = now + datetime.timedelta(days=(i + k * 7) % 60 - 30, hours=8)
                request(f"{url}/api/v1/schedules/{schedule['id']}/overrides", "POST", {
                    "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "end": (start + datetime.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "user_id": users[(i + k) % len(users)]["id"],
                })
        answer = request(f"{url}/api/v1/oncall")
        print(f"on-call answer covers {len(answer['schedules'])} schedules")
        time.sleep(2)
        print(f"idle RSS with 500 schedules loaded: {rss_kib(server.pid) / 1024:.1f} MiB")
        perf = None
        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-g", "-o", args.perf, "-p", str(server.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wrk = subprocess.run(
            ["wrk", f"-t{min(2, args.connections)}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
             "-H", f"Authorization: Bearer {TOKEN}", f"{url}/api/v1/oncall"],
            capture_output=True, text=True, check=True)
        if perf:
            perf.send_signal(2)
            perf.wait()
        print(wrk.stdout)
        print(f"RSS after load: {rss_kib(server.pid) / 1024:.1f} MiB")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
