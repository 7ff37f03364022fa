#!/usr/bin/env python3
"""Benchmark event intake on a running binary, and Debian's Alertmanager with the same load.

Starts `target/release/watchbill serve` on a fresh SQLite file (or the PostgreSQL database given
with --postgres, which is emptied first), creates a service with an Events API v2 integration,
and drives `POST /v2/enqueue` with wrk: trigger events over 10,000 dedup keys, 64 connections.
Every 202 is answered only after the event's transaction committed and the commit was flushed
to disk (SQLite in WAL mode: a flush of the log shared by the commits before it). With --alertmanager it then runs prometheus-alertmanager and drives its
`POST /api/v2/alerts` with the same generator and connection count.

With --floor it first drives the same endpoint with events that lack a routing key: each is
parsed and answered 400 without touching the database, which measures what the HTTP path
alone (wrk, hyper, axum, JSON) takes on this machine.

With --trace it logs the intake writer's trace line for every batch (and, on SQLite, each
checkpoint's) and prints, after the run, how many requests a batch held on average and how long
its parts took (bench/intake_trace.py).

With --threads it reads how busy each of the server's threads was over the middle third of
the run (user and kernel time from /proc/<pid>/task/*/stat) and prints, for each thread that
worked, its share of one core and its CPU time per accepted event.

Usage: python3 bench/intake.py [--postgres URL] [--duration 15] [--connections 64] [--floor]
       [--trace] [--threads] [--alertmanager]
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "bench-bootstrap-token-0123456789"
HERE = os.path.dirname(os.path.abspath(__file__))


def api(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as response:
        return json.loads(response.read() or b"null")


def wrk(url, script, duration, connections, env=None):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, url],
        capture_output=True, text=True, check=True, env=env)
    return out.stdout


def thread_times(pid):
    """Each thread's (name, user + kernel clock ticks) so far, by thread id."""
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        times[tid] = (name, int(fields[11]) + int(fields[12]))
    return times


def machine_idle():
    """The machine's (idle, total) clock ticks so far, over all cores."""
    with open("/proc/stat") as f:
        ticks = [int(t) for t in f.readline().split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


def sample_threads(pid, start, seconds, into):
    """Sleeps `start` seconds, then records each thread's CPU seconds over `seconds`, and last
    the share of the machine's cores that stayed idle."""
    time.sleep(start)
    before = thread_times(pid)
    idle_before = machine_idle()
    time.sleep(seconds)
    after = thread_times(pid)
    idle_after = machine_idle()
    ticks = os.sysconf("SC_CLK_TCK")
    for tid, (name, total) in sorted(after.items()):
        if tid in before:
            into.append((tid, name, (total - before[tid][1]) / ticks / seconds))
    idle = (idle_after[0] - idle_before[0]) / max(1, idle_after[1] - idle_before[1])
    into.append((None, "idle", idle))


def summary(text, expected=202):
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = errors.group(1) if errors else "0"
    if expected != 202:
        return f"{float(rps):.0f} requests/s, p50 {p50}, p99 {p99}, {errors} answered {expected}"
    return f"{float(rps):.0f} requests/s, p50 {p50}, p99 {p99}, non-2xx {errors}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/watchbill")
    parser.add_argument("--postgres", help="a PostgreSQL URL to use instead of SQLite (emptied first)")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--alertmanager", action="store_true")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--threads", action="store_true")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="watchbill-intake-")
    if args.postgres:
        subprocess.run(["psql", args.postgres, "-qc", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"], check=True)
        database = args.postgres
    else:
        database = f"sqlite://{workdir}/bench.db"
    # The intake writer's line per batch, and on SQLite each checkpoint's.
    log_filter = ("warn,watchbill_server::paging::intake=trace,watchbill_store::sqlite=trace"
                  if args.trace else "warn")
    env = dict(os.environ, WATCHBILL_BOOTSTRAP_TOKEN=TOKEN, WATCHBILL_LOG=log_filter)
    trace_path = os.path.join(workdir, "trace.log")
    trace = open(trace_path, "w") if args.trace else None
    server = subprocess.Popen([args.binary, "serve", "--listen", "127.0.0.1:0", "--smtp-listen", "127.0.0.1:0", "--database-url", database],
                              stdout=subprocess.PIPE, stderr=trace, text=True, env=env)
    try:
        url = None
        for line in server.stdout:
            match = re.search(r"is listening on (\S+)", line)
            if match:
                url = match.group(1)
            if line.strip() == "Press Ctrl-C to stop.":
                break
        team = api(f"{url}/api/v1/teams", "POST", {"name": "Bench"})
        service = api(f"{url}/api/v1/services", "POST", {"team_id": team["id"], "name": "Bench service"})
        integration = api(f"{url}/api/v1/services/{service['id']}/integrations", "POST",
                          {"kind": "events_v2", "rate_per_minute": 10_000_000})
        wrk_env = dict(os.environ, WATCHBILL_KEY=integration["key"])
        backend = "PostgreSQL" if args.postgres else "SQLite"
        if args.floor:
            floor_env = dict(wrk_env, WATCHBILL_FLOOR="1")
            result = wrk(url, os.path.join(HERE, "intake.lua"), args.duration, args.connections, floor_env)
            print(f"watchbill /v2/enqueue, every event answered 400 (no database): {summary(result, 400)}")
        busy = []
        if args.threads:
            import threading
            third = args.duration / 3
            sampler = threading.Thread(target=sample_threads, args=(server.pid, third, third, busy))
            sampler.start()
        result = wrk(url, os.path.join(HERE, "intake.lua"), args.duration, args.connections, wrk_env)
        print(f"watchbill /v2/enqueue on {backend}: {summary(result)}")
        if args.threads:
            sampler.join()
            rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result).group(1))
            print("server threads over the middle third of the run:")
            for tid, name, cores in busy:
                if tid is None:
                    print(f"  the machine's cores were {cores * 100:.0f} % idle")
                elif cores >= 0.005:
                    print(f"  {name:<16} {tid:>8}  {cores * 100:5.1f} % of a core, "
                          f"{cores * 1e6 / rate:5.1f} µs per event")
        # Counted in the database itself: the API lists at most 1,000 incidents at a time.
        query = "SELECT COUNT(*) FROM incidents WHERE status <> 'resolved'"
        if args.postgres:
            opened = subprocess.run(["psql", args.postgres, "-Atc", query], capture_output=True,
                                    text=True, check=True).stdout.strip()
        else:
            import sqlite3
            with sqlite3.connect(f"{workdir}/bench.db") as db:
                opened = db.execute(query).fetchone()[0]
        print(f"open incidents after the run: {opened} (one per dedup key; at most 10,000)")
    finally:
        server.terminate()
        server.wait()
    if trace:
        trace.close()
        subprocess.run([sys.executable, os.path.join(HERE, "intake_trace.py"), trace_path])
    if args.alertmanager:
        port = free_port()
        config = os.path.join(workdir, "alertmanager.yml")
        with open(config, "w") as f:
            f.write("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
        manager = subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={config}", f"--storage.path={workdir}/am",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready")
                    break
                except Exception:
                    time.sleep(0.1)
            result = wrk(f"http://127.0.0.1:{port}", os.path.join(HERE, "alertmanager.lua"), args.duration, args.connections)
            print(f"prometheus-alertmanager /api/v2/alerts (in memory): {summary(result)}")
        finally:
            manager.terminate()
            manager.wait()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
