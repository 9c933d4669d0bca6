#!/usr/bin/env bash
# bench.sh — `make bench`: the delete path measured against PostgreSQL's own
# limit, on this machine, in one run, with the load generator's cost apart
# from ours.
#
# For each of RUNS runs (default 1): a fresh database on the durable `bench`
# cluster, 3×ITERATIONS images with real files (COPY, progress bar), the
# service on 127.0.0.1:$PORT driven twice over distinct ids — by k6 (the
# scenario k6/delete-balsamoa.js, VUS clients) and by wrk (a C client on
# epoll, WRK_THREADS thread(s) and VUS connections: light, so it leaves the
# cores to the server and PostgreSQL) — then pgbench with exactly the
# service's per-delete transaction (bench/delete.pgbench, the reference) on
# the last third. Around each phase it reads CPU ticks from /proc: the
# server's (utime+stime), PostgreSQL's (the postmaster with its reaped
# children and every live backend) and the client's (/usr/bin/time), and
# counts the deletes by the trash table. Prints one table of rates and
# ratios and one of CPU µs per delete. Results land in bench/out/
# (git-ignored): k6 JSON summaries, HTML dashboards, wrk and pgbench output,
# CPU counts, logs.
#
#   make bench                 RUNS=3 make bench          ITERATIONS=10000 VUS=32 WRK_THREADS=1
#
# BACKEND=s3 (make bench BACKEND=s3): each run then measures the folder as
# above and, right after, the same clients over the same number of seeded
# images in a fresh bucket of a local MinIO (scripts/minio.sh start bench,
# stopped and removed at the end): `imagenes seed` PUTs the objects. Around
# each phase it also reads MinIO's CPU ticks and its count of S3 requests by
# API (its Prometheus metrics), then times each kind of request alone
# (go test -bench S3Request ./internal/objstore/). The report puts the two
# backends side by side with their s3÷disk ratios.
#
# wrk comes from Debian (apt-get install wrk) when missing; k6 from go install.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1} ITERATIONS=${ITERATIONS:-10000} VUS=${VUS:-32} PORT=${PORT:-18080} WRK_THREADS=${WRK_THREADS:-1}
BULK=${BULK:-1000} # ids per bulk request (at most the server's limit: 100 on a bucket); ITERATIONS/BULK requests, one after another
BACKEND=${BACKEND:-disk}
case "$BACKEND" in disk) legs=disk ;; s3) legs="disk s3" ;; *) echo "bench: BACKEND is disk or s3, not '$BACKEND'" >&2 && exit 2 ;; esac
# k6's ids, then wrk's (plus the requests in flight when it stops), then
# pgbench's, then the bulk route's.
N=${N:-$((4 * ITERATIONS + 2 * VUS))}
OUT=bench/out
SECRET=bench-secret-0123456789abcdef

export PATH="$PATH:$(go env GOPATH)/bin"
if ! command -v k6 >/dev/null; then
	echo "bench: installing k6 v1.8.1 (go install, a few minutes the first time)" >&2
	go install go.k6.io/k6@v1.8.1
fi
if ! command -v wrk >/dev/null; then
	echo "bench: installing wrk from Debian (apt-get install wrk)" >&2
	apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; } >&2
fi
command -v pgbench >/dev/null || PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
make -s build
BASE=$(scripts/localpg.sh start bench)
export PGOPTIONS="-c client_min_messages=warning"
rm -rf "$OUT" && mkdir -p "$OUT"

PGDATA_DIR=$(psql -Atq "$BASE" -c 'SHOW data_directory')
. scripts/lib-proc.sh # ticks, pg_ticks
trashed() { psql -Atq "$DATABASE_URL" -c 'SELECT count(*) FROM imagenes_papelera'; }
# s3_requests: MinIO's count of S3 requests so far, as api=N words (its
# Prometheus text: minio_s3_requests_total{api="copyobject",…} N).
s3_requests() {
	curl -fsS -m 5 "$minio_metrics" | awk '/^minio_s3_requests_total\{/ {
		match($0, /api="[^"]+"/); n[substr($0, RSTART + 5, RLENGTH - 6)] += $NF }
		END { for (a in n) printf "%s=%d ", a, n[a] }'
}
# s3_delta BEFORE AFTER: the requests made in between, as s3_api=N words.
s3_delta() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		n = split(a, w, " "); for (i = 1; i <= n; i++) { split(w[i], kv, "="); base[kv[1]] = kv[2] }
		n = split(b, w, " "); for (i = 1; i <= n; i++) { split(w[i], kv, "="); d = kv[2] - base[kv[1]]; if (d > 0) printf "s3_%s=%d ", kv[1], d }
	}'
}
# measure NAME CMD…: runs CMD (the client) and writes $dir/NAME.cpu with the
# deletes it made, the wall time and the CPU ticks of server, PostgreSQL and
# client over it (on the s3 leg MinIO's ticks and S3 requests too).
measure() {
	local name=$1 d0 s0=0 p0 t0 d1 s1=0 p1 t1 m0=0 m1=0 r0= r1=
	shift
	if [ -n "$minio" ]; then m0=$(ticks "$minio") r0=$(s3_requests); fi
	d0=$(trashed) p0=$(pg_ticks) t0=$(date +%s.%N)
	[ -n "$server" ] && s0=$(ticks "$server")
	if declare -F "$1" >/dev/null; then
		"$@" "$dir/$name.time" # a function times its client itself
	else
		/usr/bin/time -f '%U %S' -o "$dir/$name.time" "$@"
	fi || echo "bench: $name failed or its thresholds did (see $dir)" >&2
	t1=$(date +%s.%N) p1=$(pg_ticks)
	[ -n "$server" ] && s1=$(ticks "$server")
	if [ -n "$minio" ]; then m1=$(ticks "$minio") r1=$(s3_requests); fi
	d1=$(trashed)
	# The last line: /usr/bin/time writes "Command exited with non-zero
	# status N" first when the client fails (k6 over its thresholds).
	read -r cu cs < <(tail -n 1 "$dir/$name.time")
	echo "deletes=$((d1 - d0)) wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') server_ticks=$((s1 - s0)) pg_ticks=$((p1 - p0)) client_s=$(awk -v u="$cu" -v s="$cs" 'BEGIN{print u+s}') clk_tck=$(getconf CLK_TCK) minio_ticks=$((m1 - m0)) $(s3_delta "$r0" "$r1")" >"$dir/$name.cpu"
}

# wrk_run ARGS… TIMEFILE: wrk's main thread sleeps for the whole -d even
# when its threads have stopped (bench/wrk-delete.lua stops each after PER
# answers), so once they have, SIGINT ends the sleep and wrk reports the
# time the deletes really took. Its CPU is read from /proc just before.
wrk_run() {
	local timefile=${*: -1} pid tasks i
	wrk "${@:1:$#-1}" &
	pid=$!
	for i in $(seq 200); do # its threads start…
		tasks=(/proc/$pid/task/*)
		[ "${#tasks[@]}" -gt 1 ] && break
		sleep 0.01
	done
	while [ -d "/proc/$pid" ]; do # …and stop
		tasks=(/proc/$pid/task/*)
		[ "${#tasks[@]}" -le 1 ] && break
		sleep 0.05
	done
	awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print $12 / hz, $13 / hz}' "/proc/$pid/stat" >"$timefile" 2>/dev/null || echo "0 0" >"$timefile"
	kill -INT "$pid" 2>/dev/null || true
	wait "$pid"
}

server= minio= minio_metrics=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	# The bench MinIO and its buckets are this run's own: gone with it.
	[ "$BACKEND" = s3 ] && scripts/minio.sh destroy bench
	true
}
trap cleanup EXIT
if [ "$BACKEND" = s3 ]; then
	s3url=$(scripts/minio.sh start bench)
	s3creds=${s3url#http://} s3creds=${s3creds%@*} s3host=${s3url##*@}
	minio_metrics="http://$s3host/minio/v2/metrics/cluster"
fi

# leg BACKEND DIR: one run's measurements on one backend — a fresh database
# and storage with N seeded images, the service on them driven by k6, wrk
# and the bulk route; pgbench (no storage in it) on the folder's leg only.
leg() {
	local backend=$1 seeded first
	dir=$2
	mkdir -p "$dir"
	db=imagenes_bench
	psql -q "$BASE" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
	export DATABASE_URL=${BASE/\/postgres\?/\/$db?}
	export STORAGE_DIR=.data/bench-storage LOG_LEVEL=warn JWT_SECRET=$SECRET HTTP_ADDR=127.0.0.1:$PORT
	rm -rf "$STORAGE_DIR"
	unset STORAGE_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	minio=
	if [ "$backend" = s3 ]; then
		local bucket="bench-$run-$(date +%s)"
		scripts/minio.sh bucket bench "$bucket"
		export STORAGE_URL="s3://$bucket?endpoint=http://$s3host&path_style=true"
		export AWS_ACCESS_KEY_ID=${s3creds%%:*} AWS_SECRET_ACCESS_KEY=${s3creds#*:}
		minio=$(scripts/minio.sh pid bench)
	fi
	./imagenes migrate up >/dev/null
	seeded=$(./imagenes seed --n "$N")
	echo "bench run $run ($backend): $seeded" >&2
	first=$(sed -E 's/.*ids ([0-9]+)\.\..*/\1/' <<<"$seeded")
	psql -q "$DATABASE_URL" -c "VACUUM ANALYZE" >/dev/null

	./imagenes serve 2>"$dir/server.log" &
	server=$!
	for _ in $(seq 100); do curl -fs "http://$HTTP_ADDR/readyz" >/dev/null && break; sleep 0.1; done
	TOKEN=$(./imagenes token --sub admin --role admin --ttl 1h)
	K6_WEB_DASHBOARD=true K6_WEB_DASHBOARD_PERIOD=1s K6_WEB_DASHBOARD_EXPORT="$dir/delete-balsamoa.html" K6_WEB_DASHBOARD_PORT=-1 \
		BASE_URL="http://$HTTP_ADDR" TOKEN=$TOKEN FIRST=$first ITERATIONS=$ITERATIONS VUS=$VUS OUT_DIR=$dir \
		measure k6 k6 run --quiet k6/delete-balsamoa.js
	FIRST=$((first + ITERATIONS)) THREADS=$WRK_THREADS PER=$((ITERATIONS / WRK_THREADS)) TOKEN=$TOKEN \
		measure wrk wrk_run -t"$WRK_THREADS" -c"$VUS" -d120s --latency -s bench/wrk-delete.lua "http://$HTTP_ADDR" >"$dir/wrk.txt"
	# The bulk route (SPEC §10), as an admin panel's "delete selected" or a
	# clean-up script sends it: BULK ids a request, one request at a time.
	# The bodies are written first and one curl sends them all over one
	# connection, so the phase times the service, not a seq and a curl
	# started per request (~14 ms of client CPU each, a quarter of a
	# 1 000-id request's time).
	# A bucket takes fewer ids a request (objstore.MaxMovesPerRequest): the
	# size is the smaller of BULK and what the server tells its admin page.
	bulkfirst=$((first + 3 * ITERATIONS + 2 * VUS))
	bulkargs=()
	local bulk limit
	limit=$(curl -fsS -H "Cookie: token=$TOKEN" "http://$HTTP_ADDR/admin" | sed -nE 's/.*data-bulk="([0-9]+)".*/\1/p') || true # no page: BULK as asked
	bulk=$((${limit:-$BULK} < BULK ? ${limit:-$BULK} : BULK))
	echo "bench run $run ($backend): bulk requests of $bulk ids" >&2
	for ((r = 0; r < ITERATIONS / bulk; r++)); do
		printf '{"ids":[%s]}' "$(seq -s, $((bulkfirst + r * bulk)) $((bulkfirst + (r + 1) * bulk - 1)))" >"$dir/bulk-$r.json"
		((r == 0)) || bulkargs+=(--next)
		bulkargs+=(-fsS -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json"
			--data-binary "@$dir/bulk-$r.json" "http://$HTTP_ADDR/api/v1/admin/imagenes/eliminar")
	done
	measure bulk curl "${bulkargs[@]}"
	grep VmHWM "/proc/$server/status" | awk '{print $2}' >"$dir/server-vmhwm-kb"
	kill "$server" && wait "$server" 2>/dev/null || true
	server= minio=
	[ "$backend" = disk ] || return 0

	# pgbench: the same transaction on ids neither client touched.
	per=$((ITERATIONS / VUS))
	pgfirst=$((first + 2 * ITERATIONS + 2 * VUS))
	(cd "$dir" && measure pgbench pgbench -n -M prepared -c "$VUS" -j 2 -t "$per" -l \
		-D first=$pgfirst -D clients="$VUS" -D n=0 \
		-f ../../delete.pgbench "$DATABASE_URL" >pgbench.txt 2>&1) || { cat "$dir/pgbench.txt"; exit 1; }
}

for run in $(seq 1 "$RUNS"); do
	for backend in $legs; do
		case $backend in
		disk) leg disk "$PWD/$OUT/run-$run" ;;
		s3) leg s3 "$PWD/$OUT/run-$run/s3" ;;
		esac
	done
done
go run ./bench/report bench "$OUT"

if [ "$BACKEND" = s3 ]; then
	# Where a move's time goes: each kind of S3 request the delete makes,
	# timed alone (one at a time) on the same MinIO, and the move they make up.
	echo
	echo "S3 requests alone, one at a time (go test -bench S3Request ./internal/objstore/, MinIO on loopback):"
	IMAGENES_TEST_S3_URL=$s3url CGO_ENABLED=0 go test -run '^$' -bench 'S3Request|Move' -benchtime "${S3_BENCHTIME:-300x}" ./internal/objstore/ \
		| awk '/^Benchmark/ { sub(/^Benchmark/, "", $1); sub(/-[0-9]+$/, "", $1); printf "  %-26s %7.2f ms\n", $1, $3 / 1e6 }'
fi

# What checking a Balsamoa session (SPEC §3) adds to a request: the same
# admin request with and without the usuarios lookup, and the lookup alone.
echo
echo "Balsamoa session check (go test -bench BalsamoaSession ./internal/handlers/):"
IMAGENES_TEST_DATABASE_URL=$BASE CGO_ENABLED=0 go test -run '^$' -bench BalsamoaSession -benchtime "${SESSION_BENCHTIME:-2000x}" ./internal/handlers/ \
	| grep -E '^Benchmark' | sed -E 's/^BenchmarkBalsamoaSession\///; s/-[0-9]+ +[0-9]+ +[0-9]+ ns\/op//'
