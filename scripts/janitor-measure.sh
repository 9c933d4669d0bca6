#!/usr/bin/env bash
# janitor-measure.sh — one janitor pass over N files and rows (default
# 100 000), first all consistent, then with 1% orphans and 1% dangling rows:
# files+rows per second and the process's peak resident memory.
#
#   N=100000 scripts/janitor-measure.sh        (also: make janitor-measure)
#
# Runs against the durable `bench` cluster (not the fsync-off test one), in a
# fresh database and a fresh storage folder under .data/janitor-measure.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
BIN=./imagenes
make -s build
BASE=$(scripts/localpg.sh start bench)
DB=janitor_measure
export PGOPTIONS="-c client_min_messages=warning"
psql -q "$BASE" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL=${BASE/\/postgres\?/\/$DB?}
export STORAGE_DIR=.data/janitor-measure LOG_LEVEL=warn JANITOR_MAX_ORPHANS=$((N / 50 + 10))
rm -rf "$STORAGE_DIR"
$BIN migrate up >/dev/null

pass() { # label
	local out; out=$(mktemp)
	/usr/bin/time -f '%M' -o "$out.rss" $BIN janitor --once --json >"$out"
	go run ./bench/report janitor "$1" "$out" "$out.rss"
	rm -f "$out" "$out.rss"
}

$BIN seed --n "$N" --bytes "${BYTES:-2048}" >&2
pass "consistent ($N)"
$BIN seed --n 0 --bytes "${BYTES:-2048}" --orphans $((N / 100)) --dangling $((N / 100)) >&2
pass "1% orphans, 1% dangling"
pass "after that (steady state)"
