#!/usr/bin/env bash
# janitor-measure.sh — one janitor pass over N files and rows (default
# 100 000), first all consistent, then with 1% orphans and 1% dangling rows,
# then the steady state after it: files per second, the janitor's CPU
# (user+system), PostgreSQL's CPU during the pass (its backends' ticks from
# /proc) and the process's peak resident memory.
#
#   N=100000 scripts/janitor-measure.sh        (also: make janitor-measure)
#
# PROFILE=DIR writes each pass's CPU profile (janitor --cpuprofile) to
# DIR/<pass>-<binary>.pprof: `go tool pprof -top DIR/…` says where it went.
# BINS="OLD NEW" compares binaries over the same data: every pass is run by
# each in turn (ROUNDS times for the passes that change nothing), the 1%
# orphans and dangling seeded again before each binary's pass of that state.
# Default: the binary `make build` makes.
#
# Runs against the durable `bench` cluster (not the fsync-off test one), in a
# fresh database and a fresh storage folder under .data/janitor-measure.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
make -s build
BINS=${BINS:-./imagenes}
ROUNDS=${ROUNDS:-1}
SEED=${BINS%% *}
BASE=$(scripts/localpg.sh start bench)
DB=janitor_measure
export PGOPTIONS="-c client_min_messages=warning"
psql -q "$BASE" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL=${BASE/\/postgres\?/\/$DB?}
export STORAGE_DIR=.data/janitor-measure LOG_LEVEL=warn JANITOR_MAX_ORPHANS=$((N / 50 + 10))
rm -rf "$STORAGE_DIR"
if [ -n "${PROFILE:-}" ]; then mkdir -p "$PROFILE"; fi
$SEED migrate up >/dev/null

PGDATA_DIR=$(psql -Atq "$BASE" -c 'SHOW data_directory')
. scripts/lib-proc.sh # ticks, pg_ticks

pass() { # label binary
	local out prof=() p0 p1 tag name
	out=$(mktemp)
	tag=$(basename "$2")
	if [ -n "${PROFILE:-}" ]; then
		name=$(echo "$1" | tr -c 'a-z0-9' '-' | tr -s '-')
		prof=(--cpuprofile "$PROFILE/${name%-}-$tag.pprof")
	fi
	p0=$(pg_ticks)
	/usr/bin/time -f '%U %S %M' -o "$out.time" "$2" janitor --once --json "${prof[@]}" >"$out"
	# A backend's ticks reach the postmaster when it is reaped, a moment
	# after the janitor hung up: wait for that, or they count in the next pass.
	for _ in $(seq 50); do
		[ "$(psql -Atq "$BASE" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB'")" = 0 ] && break
		sleep 0.1
	done
	sleep 0.2
	p1=$(pg_ticks)
	echo "$(awk -v t=$((p1 - p0)) -v hz="$(getconf CLK_TCK)" 'BEGIN{print t / hz}') $(cat "$out.time")" >"$out.time"
	go run ./bench/report janitor "$1 [$tag]" "$out" "$out.time"
	rm -f "$out" "$out.time"
}

uptime
$SEED seed --n "$N" --bytes "${BYTES:-2048}" >&2
for ((r = 0; r < ROUNDS; r++)); do
	for b in $BINS; do pass "consistent ($N)" "$b"; done
done
for b in $BINS; do
	$SEED seed --n 0 --bytes "${BYTES:-2048}" --orphans $((N / 100)) --dangling $((N / 100)) >&2
	pass "1% orphans, 1% dangling" "$b"
done
for ((r = 0; r < ROUNDS; r++)); do
	for b in $BINS; do pass "after that (steady state)" "$b"; done
done
uptime
