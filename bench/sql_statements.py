#!/usr/bin/env python3
"""Counts the SQL statements a server ran, by statement, from its log.

Start the server with `WATCHBILL_LOG=sqlx::query=debug` (the driver then logs every statement
it runs, with its elapsed time) and its output in a file, run a load against it, then:

    python3 bench/sql_statements.py <that file> [how many lines, 30 by default]

Prints the number of statements and their summed elapsed time, then one line per statement
text (its first 90 characters), most frequent first: how many times it ran and its total
elapsed time. Elapsed times include the hand-off to the database and back, and waiting for a
core, so on a loaded machine they say more about round trips than about the database's work.
The claims of due escalation timers and notifications are split into those that found rows
and those that found none.
"""
import collections
import re
import sys

STATEMENT = re.compile(
    r'summary="(.*?)" db\.statement="(.*?)" rows_affected=(\d+) rows_returned=(\d+)'
    r'.*elapsed_secs=([\d.e-]+)')
CLAIMS = ("escalation_timers WHERE due_at", "notifications WHERE status")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    shown = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    count = collections.Counter()
    elapsed = collections.Counter()
    with open(sys.argv[1], errors="replace") as log:
        for line in log:
            found = STATEMENT.search(line)
            if not found:
                continue
            summary, text, _, returned, seconds = found.groups()
            text = re.sub(r"\s+", " ", text.replace("\\n", " ")).strip()[:90] or summary
            if any(claim in text for claim in CLAIMS):
                text += " (found none)" if returned == "0" else " (found some)"
            count[text] += 1
            elapsed[text] += float(seconds)
    print(f"{sum(count.values())} statements, {sum(elapsed.values()):.2f} s elapsed in all")
    for text, n in count.most_common(shown):
        print(f"{n:8} {elapsed[text] * 1000:9.0f} ms  {text}")


if __name__ == "__main__":
    main()
