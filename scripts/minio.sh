#!/usr/bin/env bash
# minio.sh — a throwaway MinIO (S3-compatible server) for development
# (`make run-s3`) and the test suite (`make test`), so that a fresh clone
# needs nothing but the Go toolchain.
#
#   scripts/minio.sh start NAME   start (or reuse) server NAME; prints ONLY its URL on stdout
#   scripts/minio.sh url NAME     print the URL of the running server NAME (exit 1 if not running)
#   scripts/minio.sh pid NAME     print the process id of the running server NAME (make bench reads its CPU)
#   scripts/minio.sh stop NAME    stop it, if it runs
#   scripts/minio.sh destroy NAME stop it and delete its data folder
#   scripts/minio.sh bucket NAME BUCKET  create BUCKET on the running server NAME (if absent)
#   scripts/minio.sh install      build the pinned MinIO into the cache (no server started)
#
# The URL carries the generated credentials:
#   http://ACCESS_KEY:SECRET_KEY@127.0.0.1:PORT
# (tests read it from IMAGENES_TEST_S3_URL). Every other message goes to
# stderr, so `URL=$(scripts/minio.sh start test)` is safe.
#
# The server listens on 127.0.0.1 only, on a random free port, with its web
# console off, its data in ./.data/minio-NAME and root credentials made up on
# first start (kept, mode 600, in that folder). Its Prometheus metrics
# (/minio/v2/metrics/cluster) are readable without a token, so make bench
# can count the S3 requests by API. It is for tests and local development
# only: never for anything that holds real data.
#
# The binary: MinIO publishes no semver module versions, so it is pinned by
# its pseudo-version and built with `go install` the first time (a few
# minutes), into a cache outside the clone that every clone and CI run on
# the machine shares: $IMAGENES_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/imagenes).
set -euo pipefail

MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}

usage() {
	echo "usage: $0 start NAME | url NAME | pid NAME | stop NAME | destroy NAME | bucket NAME BUCKET | install" >&2
	exit 2
}
# close_fds closes every descriptor above stderr (see start).
close_fds() {
	local fd
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
	done
}

log() { printf 'minio: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

cmd=${1:-}
[[ -n "$cmd" ]] || usage
name=${2:-}
if [[ "$cmd" != install ]]; then
	[[ -n "$name" ]] || usage
	# NAME becomes part of a path removed by destroy: keep it a plain word.
	[[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || die "bad server name '$name' (letters, digits, _ and - only)"
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
datahome="$repo/.data"
d="$datahome/minio-$name"
cache=${IMAGENES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imagenes}
bindir="$cache/minio-$MINIO_VERSION"
bin="$bindir/minio"

# install builds the pinned MinIO once; a lock keeps two clones (or two
# make targets) from building it at the same time.
install() {
	[[ -x "$bin" ]] && return
	command -v go >/dev/null 2>&1 || die "go is not on PATH (needed to build MinIO)"
	mkdir -p "$cache"
	exec 8>>"$cache/minio.lock"
	if command -v flock >/dev/null 2>&1; then
		flock -w 1200 8 || die "another build holds $cache/minio.lock"
	fi
	if [[ ! -x "$bin" ]]; then
		log "building $MINIO_MODULE@$MINIO_VERSION into $bindir (first time only; takes a few minutes)"
		mkdir -p "$bindir.part"
		if ! (cd "$cache" && GOBIN="$bindir.part" go install "$MINIO_MODULE@$MINIO_VERSION") >&2; then
			rm -rf "$bindir.part"
			die "go install $MINIO_MODULE@$MINIO_VERSION failed"
		fi
		rm -rf "$bindir"
		mv "$bindir.part" "$bindir"
	fi
	exec 8>&-
}

pid_alive() { [[ -f "$d/pid" ]] && kill -0 "$(<"$d/pid")" 2>/dev/null; }

url_of() { echo "http://$(<"$d/access"):$(<"$d/secret")@127.0.0.1:$(<"$d/port")"; }

live() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/minio/health/live" 2>/dev/null; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

random_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		port_free "$p" && port_free "$((p + 1))" && {
			echo "$p"
			return
		}
	done
	die "no free TCP port found on 127.0.0.1"
}

secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start() {
	mkdir -p "$d/data"
	if pid_alive && live "$(<"$d/port")"; then
		url_of
		return
	fi
	install
	if [[ ! -s "$d/secret" ]]; then
		(umask 077 && echo "imagenes$(secret | cut -c1-8)" >"$d/access" && secret >"$d/secret")
	fi
	local port attempt deadline
	for attempt in 1 2 3 4 5; do
		port=$(random_port)
		# A test forces the first try onto a port it holds, to see the retry.
		if ((attempt == 1)) && [[ -n "${MINIO_TRY_PORT:-}" ]]; then port=$MINIO_TRY_PORT; fi
		echo "$port" >"$d/port"
		log "starting server '$name' on 127.0.0.1:$port ($d)"
		# setsid: the server outlives this script and the make that ran it,
		# and is stopped by its pid (stop), never by name. It keeps no
		# descriptor of ours (close_fds): a lock the caller holds
		# (`flock /tmp/imagenes-measure.lock make crash`) would be held for
		# the server's whole life.
		(
			close_fds
			MINIO_ROOT_USER=$(<"$d/access") MINIO_ROOT_PASSWORD=$(<"$d/secret") \
				MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off MINIO_PROMETHEUS_AUTH_TYPE=public \
				exec setsid "$bin" server --quiet --anonymous \
				--address "127.0.0.1:$port" --console-address "127.0.0.1:$((port + 1))" \
				"$d/data"
		) >"$d/server.log" 2>&1 </dev/null &
		echo $! >"$d/pid"
		deadline=$((SECONDS + 60))
		while ((SECONDS < deadline)); do
			if live "$port"; then
				url_of
				return
			fi
			pid_alive || break
			sleep 0.2
		done
		# MinIO says "Specified port is already in use", not the kernel's
		# "address already in use": both mean another process took the
		# port between random_port's check and the bind.
		if ! pid_alive && grep -qiE 'address already in use|port is already in use' "$d/server.log" && ((attempt < 5)); then
			log "port $port was taken meanwhile; trying another"
			continue
		fi
		break
	done
	log "MinIO server '$name' did not start; last lines of $d/server.log:"
	tail -n 20 "$d/server.log" >&2 || true
	stop
	exit 1
}

stop() {
	if pid_alive; then
		log "stopping server '$name'"
		local pid
		pid=$(<"$d/pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$d/pid"
}

# bucket creates a bucket with curl's own SigV4 signing (no S3 client to
# install); 409 means it is there already.
bucket() {
	local b=$1 code
	[[ "$b" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "bad bucket name '$b'"
	pid_alive && live "$(<"$d/port")" || die "server '$name' is not running"
	code=$(curl -sS -o /dev/null -w '%{http_code}' -m 10 --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$(<"$d/access"):$(<"$d/secret")" -X PUT "http://127.0.0.1:$(<"$d/port")/$b")
	[[ "$code" == 200 || "$code" == 409 ]] || die "create bucket $b: HTTP $code"
}

case "$cmd" in
install) install ;;
bucket) bucket "${3:-}" ;;
start) start ;;
url)
	pid_alive && live "$(<"$d/port")" || die "server '$name' is not running"
	url_of
	;;
pid)
	pid_alive && live "$(<"$d/port")" || die "server '$name' is not running"
	cat "$d/pid"
	;;
stop) stop ;;
destroy)
	stop
	rm -rf "$d"
	;;
*) usage ;;
esac
