#!/usr/bin/env python3
"""Averages the intake writer's per-batch trace lines: how many requests a batch held and how
long its parts took (waiting for the write connection and beginning, looking up routes and open
incidents, writing, committing), and each part's 10th, 50th, 90th and 99th percentile.

Usage: WATCHBILL_LOG=watchbill_server::paging::intake=trace watchbill serve … 2> trace.log
       python3 bench/intake_trace.py trace.log
"""
import re
import sys

FIELDS = ["requests", "begin_us", "lookups_us", "writes_us", "commit_us"]


def main():
    sums = dict.fromkeys(FIELDS, 0)
    values_of = {field: [] for field in FIELDS}
    batches = 0
    with open(sys.argv[1], errors="replace") as log:
        for line in log:
            if "intake batch" not in line or "failed" in line:
                continue
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
