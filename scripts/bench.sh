#!/usr/bin/env bash
# bench.sh — `make bench`: the delete path measured against PostgreSQL's own
# limit, on this machine, in one run.
#
# For each of RUNS runs (default 1): a fresh database on the durable `bench`
# cluster, N images with real files (COPY, progress bar), the service on
# 127.0.0.1:$PORT, the k6 delete scenario (ITERATIONS distinct ids at VUS
# clients), the server's peak RSS, then pgbench with exactly the service's
# delete transaction (bench/delete.pgbench) on the other half of the ids.
# Prints one table: req/s, p50, p99, server peak RSS, ratios to pgbench and
# to Balsamoa's figure. Results land in bench/out/ (git-ignored): k6 JSON
# summaries, HTML dashboards, pgbench output and logs.
#
#   make bench                 RUNS=3 make bench          N=20000 ITERATIONS=10000 VUS=32
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1} N=${N:-20000} ITERATIONS=${ITERATIONS:-10000} VUS=${VUS:-32} PORT=${PORT:-18080}
OUT=bench/out
SECRET=bench-secret-0123456789abcdef

export PATH="$PATH:$(go env GOPATH)/bin"
if ! command -v k6 >/dev/null; then
	echo "bench: installing k6 v1.8.1 (go install, a few minutes the first time)" >&2
	go install go.k6.io/k6@v1.8.1
fi
command -v pgbench >/dev/null || PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
make -s build
BASE=$(scripts/localpg.sh start bench)
export PGOPTIONS="-c client_min_messages=warning"
rm -rf "$OUT" && mkdir -p "$OUT"

server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null || true; }
trap cleanup EXIT

for run in $(seq 1 "$RUNS"); do
	dir="$OUT/run-$run"
	mkdir -p "$dir"
	db=imagenes_bench
	psql -q "$BASE" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
	export DATABASE_URL=${BASE/\/postgres\?/\/$db?}
	export STORAGE_DIR=.data/bench-storage LOG_LEVEL=warn JWT_SECRET=$SECRET HTTP_ADDR=127.0.0.1:$PORT
	rm -rf "$STORAGE_DIR"
	./imagenes migrate up >/dev/null
	seeded=$(./imagenes seed --n "$N")
	echo "bench run $run: $seeded" >&2
	first=$(sed -E 's/.*ids ([0-9]+)\.\..*/\1/' <<<"$seeded")
	psql -q "$DATABASE_URL" -c "VACUUM ANALYZE" >/dev/null

	./imagenes serve 2>"$dir/server.log" &
	server=$!
	for _ in $(seq 100); do curl -fs "http://$HTTP_ADDR/readyz" >/dev/null && break; sleep 0.1; done
	TOKEN=$(./imagenes token --sub admin --role admin --ttl 1h)
	K6_WEB_DASHBOARD=true K6_WEB_DASHBOARD_PERIOD=1s K6_WEB_DASHBOARD_EXPORT="$dir/delete-balsamoa.html" K6_WEB_DASHBOARD_PORT=-1 \
		BASE_URL="http://$HTTP_ADDR" TOKEN=$TOKEN FIRST=$first ITERATIONS=$ITERATIONS VUS=$VUS OUT_DIR=$dir \
		k6 run --quiet k6/delete-balsamoa.js || echo "bench: k6 thresholds failed (see $dir)" >&2
	grep VmHWM "/proc/$server/status" | awk '{print $2}' >"$dir/server-vmhwm-kb"
	kill "$server" && wait "$server" 2>/dev/null || true
	server=

	# pgbench: the same transaction on ids the k6 run did not touch.
	per=$((ITERATIONS / VUS))
	(cd "$dir" && pgbench -n -M prepared -c "$VUS" -j 2 -t "$per" -l \
		-D first=$((first + ITERATIONS)) -D clients="$VUS" -D n=0 \
		-f ../../delete.pgbench "$DATABASE_URL" >pgbench.txt 2>&1) || { cat "$dir/pgbench.txt"; exit 1; }
done
go run ./bench/report bench "$OUT"

# What checking a Balsamoa session (SPEC §3) adds to a request: the same
# admin request with and without the usuarios lookup, and the lookup alone.
echo
echo "Balsamoa session check (go test -bench BalsamoaSession ./internal/handlers/):"
IMAGENES_TEST_DATABASE_URL=$BASE CGO_ENABLED=0 go test -run '^$' -bench BalsamoaSession -benchtime "${SESSION_BENCHTIME:-2000x}" ./internal/handlers/ \
	| grep -E '^Benchmark' | sed -E 's/^BenchmarkBalsamoaSession\///; s/-[0-9]+ +[0-9]+ +[0-9]+ ns\/op//'
