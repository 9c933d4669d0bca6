#!/usr/bin/env bash
# k6-all.sh — `make k6`: every k6 script against a freshly started service
# (fresh database on the bench cluster, fresh storage), each with its
# thresholds; exits non-zero when any script fails them. Summaries and HTML
# dashboards land in bench/out/k6/.
#
# To run one script against `make run` instead (token printed by make run):
#   ./imagenes seed --n 2000   (with make run's DATABASE_URL and STORAGE_DIR=./.data/storage)
#   TOKEN=... FIRST=<first seeded id> ITERATIONS=1000 k6 run k6/delete-balsamoa.js
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18082} ITERATIONS=${ITERATIONS:-2000}
OUT=bench/out/k6
export PATH="$PATH:$(go env GOPATH)/bin"
command -v k6 >/dev/null || go install go.k6.io/k6@v1.8.1
make -s build
BASE=$(scripts/localpg.sh start bench)
export PGOPTIONS="-c client_min_messages=warning"
db=imagenes_k6
psql -q "$BASE" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
export DATABASE_URL=${BASE/\/postgres\?/\/$db?}
export STORAGE_DIR=.data/k6-storage LOG_LEVEL=warn JWT_SECRET=k6-secret-0123456789abcdef HTTP_ADDR=127.0.0.1:$PORT
rm -rf "$STORAGE_DIR" "$OUT" && mkdir -p "$OUT"
./imagenes migrate up >/dev/null
seeded=$(./imagenes seed --n $((2 * ITERATIONS)))
first=$(sed -E 's/.*ids ([0-9]+)\.\..*/\1/' <<<"$seeded")
./imagenes serve 2>"$OUT/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://$HTTP_ADDR/readyz" >/dev/null && break; sleep 0.1; done
export BASE_URL=http://$HTTP_ADDR TOKEN=$(./imagenes token --sub admin --role admin) OUT_DIR=$OUT ITERATIONS
failed=()
run() { # script [env...]
	local s=$1; shift
	if ! env "$@" K6_WEB_DASHBOARD=true K6_WEB_DASHBOARD_PERIOD=1s K6_WEB_DASHBOARD_PORT=-1 \
		K6_WEB_DASHBOARD_EXPORT="$OUT/$s.html" k6 run --quiet "k6/$s.js"; then
		failed+=("$s")
	fi
}
run delete-balsamoa FIRST=$first
run delete-cat FIRST=$((first + ITERATIONS))
run upload
run tienda
run lifecycle
if ((${#failed[@]})); then
	echo "k6: thresholds failed: ${failed[*]}" >&2
	exit 1
fi
echo "k6: all scripts passed their thresholds"
