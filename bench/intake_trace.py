#!/usr/bin/env python3
"""Averages the intake writer's per-batch trace lines: how many requests a batch held and how
long its parts took (waiting for the write connection and beginning, looking up routes and open
incidents, writing, committing), and each part's 10th, 50th, 90th and 99th percentile; how
long each batch's answers then waited for the flush of its commit to disk (on SQLite, a flush
of the log after the commit; on PostgreSQL, none); on SQLite, also how long each background
checkpoint's second pass held writes back.

Usage: WATCHBILL_LOG=watchbill_server::paging::intake=trace,watchbill_store::sqlite=trace \
       watchbill serve … 2> trace.log
       python3 bench/intake_trace.py trace.log
"""
import re
import sys
from datetime import datetime

FIELDS = ["requests", "begin_us", "lookups_us", "writes_us", "commit_us"]


def main():
    sums = dict.fromkeys(FIELDS, 0)
    values_of = {field: [] for field in FIELDS}
    batches = 0
    # SQLite's checkpoints: when each pass ended, to time the pass that holds writes back.
    first_pass_ended = None
    held = []
    flushes = []
    with open(sys.argv[1], errors="replace") as log:
        for line in log:
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
            if "checkpoint" in line and "pass=" in line:
                at = datetime.fromisoformat(line.split()[0].rstrip("Z"))
                if 'pass="while writing"' in line:
                    first_pass_ended = at
                elif first_pass_ended is not None:
                    held.append((at - first_pass_ended).total_seconds() * 1000)
                    first_pass_ended = None
                continue
            if "intake flush" in line:
                match = re.search(r"flush_us=(\d+)", line)
                if match:
                    flushes.append(int(match.group(1)))
                continue
            if "intake batch" not in line or "failed" in line:
                continue
            values = dict(re.findall(r"(\w+)=(\d+)", line))
            if not all(field in values for field in FIELDS):
                continue
            batches += 1
            for field in FIELDS:
                sums[field] += int(values[field])
                values_of[field].append(int(values[field]))
    if not batches:
        print("no intake batch lines found")
        return 1
    print(f"{batches} batches; on average " + ", ".join(
        f"{field} {sums[field] / batches:.0f}" for field in FIELDS))
    # A mean hides whether every batch is slow or a few are very slow.
    for field in FIELDS:
        ordered = sorted(values_of[field])
        print(f"  {field}: " + ", ".join(
            f"p{q} {ordered[min(len(ordered) - 1, len(ordered) * q // 100)]}"
            for q in (10, 50, 90, 99)))
    if flushes:
        flushes.sort()
        print("  flush_us (after the commit): " + ", ".join(
            f"p{q} {flushes[min(len(flushes) - 1, len(flushes) * q // 100)]}"
            for q in (10, 50, 90, 99)) + f", max {flushes[-1]}")
    if held:
        held.sort()
        print(f"{len(held)} SQLite checkpoints; the pass between writes held writes back "
              f"{held[len(held) // 2]:.1f} ms at the median, {held[-1]:.1f} ms at most")
    return 0


if __name__ == "__main__":
    sys.exit(main())
