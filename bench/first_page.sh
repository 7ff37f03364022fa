#!/usr/bin/env bash
# One run of the first-page benchmark (BENCHMARKS.md, "Event to first page") on a fresh
# database: starts the server, sends 1,000 events a second with the page_latency example,
# prints its figures and the server's CPU time, and stops the server.
#
# Usage: bench/first_page.sh [sqlite|postgres] [SECONDS] [WARM-UP SECONDS]
# Environment: BINARY (default target/release/watchbill), EXAMPLE (default
# target/release/examples/page_latency), POSTGRES_URL (an existing scratch database, emptied
# first; default postgres://postgres@127.0.0.1:5432/wbbench).
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:-sqlite}
seconds=${2:-20}
warmup=${3:-2}
binary=${BINARY:-target/release/watchbill}
example=${EXAMPLE:-target/release/examples/page_latency}
token=benchmark-token-0001
listen=127.0.0.1:18095

case "$backend" in
sqlite)
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    url="sqlite://$scratch/watchbill.db"
    ;;
postgres)
    url=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/wbbench}
    echo "autovacuum: $(psql "$url" -Atc 'SHOW autovacuum')"
    psql "$url" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public' 2>/dev/null
    ;;
*)
    echo "usage: $0 [sqlite|postgres] [SECONDS] [WARM-UP SECONDS]" >&2
    exit 2
    ;;
esac

WATCHBILL_BOOTSTRAP_TOKEN=$token "$binary" serve --listen "$listen" --smtp-listen 127.0.0.1:0 \
    --database-url "$url" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://$listen/health" && break
    sleep 0.1
done
"$example" "http://$listen" "$token" 1000 "$seconds" "$warmup"
# User and system time, in clock ticks (10 ms), over the whole run.
awk '{print "server CPU ticks:", $14 + $15}' "/proc/$server/stat"
kill "$server"
wait "$server" 2>/dev/null || true
