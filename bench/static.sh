#!/usr/bin/env bash
# static.sh — GET /recursos/* of one live image, served by `imagenes serve`
# (the folder backend) and by nginx on the same folder, side by side in one
# run: wrk, WRK_THREADS thread(s) × CONNS connections, DURATION each, the two
# servers alternated ROUNDS times so a load change on this shared machine
# hits both. nginx is the reference a shop would put in front: one worker,
# sendfile, open_file_cache. Prints each round's rates, their ratio and the
# load average beside them; wrk's output lands in bench/out/static/.
#
#   bench/static.sh            ROUNDS=5 SIZE=20480 CONNS=32 DURATION=10s bench/static.sh
#
# DATABASE_URL: the service's database (any migrated or empty one: the
# route reads no row); unset, a local cluster `bench` is started
# (scripts/localpg.sh). PPROF_ADDR set: a 10 s CPU profile of the service
# under wrk is written to bench/out/static/cpu.pprof after the rounds.
# nginx (nginx-light) and wrk come from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} SIZE=${SIZE:-20480} CONNS=${CONNS:-32} DURATION=${DURATION:-10s} WRK_THREADS=${WRK_THREADS:-1}
PORT=${PORT:-18090} NGINX_PORT=${NGINX_PORT:-18091}
OUT=${OUT:-bench/out/static}
BIN=${BIN:-./imagenes}

for tool in wrk:wrk nginx:nginx-light; do
	if ! command -v "${tool%%:*}" >/dev/null && ! [ -x "/usr/sbin/${tool%%:*}" ]; then
		echo "static: installing ${tool#*:} from Debian" >&2
		apt-get install -y -qq "${tool#*:}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${tool#*:}"; } >&2
	fi
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ "$BIN" = ./imagenes ] && make -s build
if [ -z "${DATABASE_URL:-}" ]; then
	DATABASE_URL=$(scripts/localpg.sh start bench)
fi
rm -rf "$OUT" && mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
store=$OUT/storage
img=recursos/imagenes/productos/ab/static-bench.png
mkdir -p "$store/$(dirname "$img")"
head -c "$SIZE" /dev/urandom >"$store/$img"

server= ngx=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	[ -n "$ngx" ] && kill "$ngx" 2>/dev/null
	true
}
trap cleanup EXIT

DATABASE_URL=$DATABASE_URL "$BIN" migrate up >/dev/null
STORAGE_DIR=$store DATABASE_URL=$DATABASE_URL LOG_LEVEL=warn JWT_SECRET=static-bench-0123456789abcdef \
	HTTP_ADDR=127.0.0.1:$PORT "$BIN" serve 2>"$OUT/server.log" &
server=$!
cat >"$OUT/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	open_file_cache max=1000 inactive=60s;
	open_file_cache_valid 60s;
	etag on;
	client_body_temp_path $OUT/nginx-tmp;
	proxy_temp_path $OUT/nginx-tmp;
	fastcgi_temp_path $OUT/nginx-tmp;
	uwsgi_temp_path $OUT/nginx-tmp;
	scgi_temp_path $OUT/nginx-tmp;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $store;
		location /recursos/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
	}
}
EOF
mkdir -p "$OUT/nginx-tmp"
"$NGINX" -c "$OUT/nginx.conf" 2>>"$OUT/nginx-error.log" &
ngx=$!
ours=http://127.0.0.1:$PORT/$img theirs=http://127.0.0.1:$NGINX_PORT/$img
for u in "$ours" "$theirs"; do
	for _ in $(seq 100); do curl -fso /dev/null "$u" && break; kill -0 "$server" "$ngx" || break; sleep 0.1; done
	curl -fso /dev/null "$u" || { echo "static: $u does not answer (see $OUT)" >&2; exit 1; }
done

rate() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
printf '%-6s %12s %12s %7s  %s\n' round imagenes nginx ratio "load (1/5/15 min)"
sum_o=0 sum_n=0
for r in $(seq 1 "$ROUNDS"); do
	wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "$ours" >"$OUT/imagenes-$r.txt"
	wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "$theirs" >"$OUT/nginx-$r.txt"
	o=$(rate "$OUT/imagenes-$r.txt") n=$(rate "$OUT/nginx-$r.txt")
	sum_o=$(awk -v a="$sum_o" -v b="$o" 'BEGIN{print a+b}') sum_n=$(awk -v a="$sum_n" -v b="$n" 'BEGIN{print a+b}')
	printf '%-6s %12.0f %12.0f %6.2f×  %s\n' "$r" "$o" "$n" "$(awk -v a="$o" -v b="$n" 'BEGIN{print a/b}')" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
printf '%-6s %12.0f %12.0f %6.2f×  (%s B image, wrk -t%s -c%s -d%s, %s rounds alternated)\n' all \
	"$(awk -v a="$sum_o" -v r="$ROUNDS" 'BEGIN{print a/r}')" "$(awk -v a="$sum_n" -v r="$ROUNDS" 'BEGIN{print a/r}')" \
	"$(awk -v a="$sum_o" -v b="$sum_n" 'BEGIN{print a/b}')" "$SIZE" "$WRK_THREADS" "$CONNS" "$DURATION" "$ROUNDS"
if [ -n "${PPROF_ADDR:-}" ]; then
	wrk -t"$WRK_THREADS" -c"$CONNS" -d12s "$ours" >"$OUT/imagenes-pprof.txt" &
	sleep 1
	curl -fsS -o "$OUT/cpu.pprof" "http://$PPROF_ADDR/debug/pprof/profile?seconds=10"
	wait
	echo "static: CPU profile under wrk in $OUT/cpu.pprof (go tool pprof -top $BIN $OUT/cpu.pprof)" >&2
fi
for f in "$OUT"/imagenes-*.txt; do
	grep -q 'Non-2xx' "$f" && echo "static: non-2xx answers in $f" >&2
done
true
