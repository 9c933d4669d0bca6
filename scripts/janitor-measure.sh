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
psql -q "$BASE" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL=${BASE/\/postgres\?/\/$DB?}
export STORAGE_DIR=.data/janitor-measure LOG_LEVEL=warn JANITOR_MAX_ORPHANS=$((N / 50 + 10))
rm -rf "$STORAGE_DIR"
$BIN migrate up >/dev/null

pass() { # label
	local out; out=$(mktemp)
	/usr/bin/time -f '%M' -o "$out.rss" $BIN janitor --once --json >"$out"
	python3 - "$1" "$out" "$out.rss" <<'PY'
import json, sys
label, out, rss = sys.argv[1:]
r = json.load(open(out))
kb = int(open(rss).read().split()[-1])
items = r["files_scanned"] + r["rows_scanned"]
secs = max(r["duration_ms"], 1) / 1000
print(f"{label:<28} {r['files_scanned']:>8} files {r['rows_scanned']:>8} rows {r['duration_ms']:>6} ms "
      f"{r['files_scanned']/secs:>9.0f} files/s {items/secs:>9.0f} items/s  peak RSS {kb/1024:5.1f} MiB  "
      f"orphans {r['orphans']} dangling {r['dangling']}")
PY
	rm -f "$out" "$out.rss"
}

$BIN seed --n "$N" >&2
pass "consistent ($N)"
$BIN seed --n 0 --orphans $((N / 100)) --dangling $((N / 100)) >&2
pass "1% orphans, 1% dangling"
pass "after that (steady state)"
