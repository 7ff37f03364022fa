#!/usr/bin/env python3
"""What SQLite alone takes for intake's writes, without the server.

Creates a database with watchbill's own SQLite migrations, opens 10,000 incidents, and then
writes batches of alerts exactly as an intake batch does when every event adds an alert to an
open incident: one multi-row update of the alert counts, one multi-row insert of timeline lines
and one of event records, in one transaction, in WAL mode with synchronous=FULL. One thread,
no HTTP: the ceiling a single writer meets on this machine.

Usage: python3 bench/sqlite_writes.py [--batch 32] [--batches 2000] [--page-size 4096]
"""
import argparse
import glob
import json
import os
import random
import sqlite3
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "crates", "watchbill-store", "migrations", "sqlite")
INCIDENTS = 10_000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32, help="alerts per transaction")
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=4096)
    parser.add_argument("--no-timeline", action="store_true",
                        help="leave out the timeline line of each alert")
    parser.add_argument("--no-event-index", action="store_true",
                        help="drop the events' per-incident index")
    parser.add_argument("--no-count", action="store_true",
                        help="leave out the update of the alert counts")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="watchbill-sqlite-writes-")
    db = sqlite3.connect(os.path.join(workdir, "bench.db"), isolation_level=None)
    db.execute(f"PRAGMA page_size = {args.page_size}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    for path in sorted(glob.glob(os.path.join(MIGRATIONS, "*.sql"))):
        with open(path) as f:
            db.executescript(f.read())
    if args.no_event_index:
        db.execute("DROP INDEX events_by_incident")
    db.execute("INSERT INTO teams (id, name, description, created_at, updated_at) VALUES (1, 'Bench', '', 0, 0)")
    db.execute(
        "INSERT INTO services (id, team_id, name, description, default_urgency, created_at, updated_at) "
        "VALUES (1, 1, 'Bench service', '', 'high', 0, 0)")
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO incidents (id, service_id, dedup_key, title, status, urgency, created_at, last_alert_at) "
        "VALUES (?, 1, ?, ?, 'triggered', 'high', 0, 0)",
        [(i, f"key-{i}", f"Load test key-{i}") for i in range(1, INCIDENTS + 1)])
    db.execute("COMMIT")
    started = time.perf_counter()
    for now in range(args.batches):
        ids = random.sample(range(1, INCIDENTS + 1), args.batch)
        db.execute("BEGIN IMMEDIATE")
        cases = " ".join(f"WHEN {i} THEN 1" for i in ids)
        if not args.no_count:
          db.execute(
            f"UPDATE incidents SET alert_count = alert_count + CASE id {cases} END, last_alert_at = ? "
            f"WHERE id IN ({','.join(map(str, ids))})", (now,))
        lines = []
        for i in ids:
            lines += [i, now, "alert", "Events (bench)", f"Another alert: Load test key-{i}"]
        if not args.no_timeline:
          db.execute(
            "INSERT INTO incident_log (incident_id, at, kind, actor, message) VALUES "
            + ", ".join("(?, ?, ?, ?, ?)" for _ in ids), lines)
        events = []
        for i in ids:
            payload = json.dumps({"summary": f"Load test key-{i}", "source": "bench", "severity": "warning"})
            events += [1, i, now, "trigger", f"key-{i}", f"Load test key-{i}", "warning", "bench",
                       "alert_added", payload]
        db.execute(
            "INSERT INTO events (integration_id, incident_id, received_at, action, dedup_key, summary, "
            "severity, source, outcome, payload) VALUES "
            + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" for _ in ids), events)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    print(f"SQLite {sqlite3.sqlite_version}, page size {page_size}: {args.batches} batches of {args.batch} "
          f"alerts, {elapsed / args.batches * 1000:.2f} ms a batch, {args.batches * args.batch / elapsed:,.0f} alerts/s")


if __name__ == "__main__":
    sys.exit(main())
