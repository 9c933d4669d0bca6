#!/usr/bin/env bash
# localpg.sh — a throwaway PostgreSQL cluster for development, tests and
# benchmarks, so that a fresh clone needs nothing but the PostgreSQL server
# binaries. Trust auth on 127.0.0.1 only: it is never a production database.
#
#   scripts/localpg.sh start NAME [--fast]   start (or reuse) cluster NAME; prints its URL on stdout
#   scripts/localpg.sh url NAME              print the URL of a running cluster (exit 1 if not running)
#   scripts/localpg.sh stop NAME             stop it
#   scripts/localpg.sh destroy NAME          stop it and delete its data
#
# --fast turns fsync off: for the test suite only, never for benchmarks.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmd=${1:-}
name=${2:-}
fast=${3:-}
[[ -n "$cmd" && -n "$name" && "$name" =~ ^[a-z0-9_-]+$ ]] || { echo "usage: $0 start|url|stop|destroy NAME [--fast]" >&2; exit 2; }

log() { echo "localpg: $*" >&2; }

bindir() {
	if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
		pg_config --bindir
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[[ -n "$d" ]] || { log "no PostgreSQL server binaries found (apt-get install postgresql)"; exit 1; }
	echo "$d"
}
BIN=$(bindir)

# initdb and postgres refuse to run as root: as root, run them as the
# postgres system user.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# The data folder lives in ./.data/pg-NAME. When the postgres user cannot
# reach the clone (a clone below /root, mode 700), it lives in /var/tmp
# instead, and ./.data/pg-NAME.location remembers where.
datadir() {
	local loc="$repo/.data/pg-$name.location"
	if [[ -f "$loc" ]]; then
		cat "$loc"
		return
	fi
	mkdir -p "$repo/.data"
	local d="$repo/.data/pg-$name"
	if [[ $(id -u) -eq 0 ]]; then
		mkdir -p "$d"
		chown postgres: "$d"
		if ! runuser -u postgres -- test -w "$d" 2>/dev/null; then
			rmdir "$d" 2>/dev/null || true
			d="/var/tmp/imagenes-pg-$(echo -n "$repo" | sha1sum | cut -c1-12)-$name"
			mkdir -p "$d"
			chown postgres: "$d"
			chmod 700 "$d"
			log "the postgres user cannot reach $repo/.data; using $d"
		fi
	else
		mkdir -p "$d"
	fi
	echo "$d" >"$loc"
	echo "$d"
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running() {
	[[ -f "$1/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

url_of() {
	echo "postgres://postgres@127.0.0.1:$(cat "$1/port")/postgres?sslmode=disable"
}

start() {
	local d
	d=$(datadir)
	if running "$d"; then
		url_of "$d"
		return
	fi
	if [[ ! -f "$d/PG_VERSION" ]]; then
		log "initdb $d"
		as_pg "$BIN/initdb" -D "$d" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null 2>&1 ||
			as_pg "$BIN/initdb" -D "$d" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
	fi
	local port
	port=$(cat "$d/port" 2>/dev/null || echo "")
	if [[ -z "$port" ]] || ! port_free "$port"; then
		port=55432
		while ! port_free "$port"; do port=$((port + 1)); done
		echo "$port" | as_pg tee "$d/port" >/dev/null
	fi
	local opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$d -c max_connections=300 -c shared_buffers=128MB"
	if [[ "$fast" == "--fast" ]]; then
		opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	log "starting cluster $name on 127.0.0.1:$port"
	if ! as_pg "$BIN/pg_ctl" -D "$d" -l "$d/server.log" -o "$opts" -w -t 30 start >/dev/null; then
		log "PostgreSQL did not start; last lines of $d/server.log:"
		tail -n 20 "$d/server.log" >&2 || true
		exit 1
	fi
	url_of "$d" | as_pg tee "$d/url" >/dev/null
	url_of "$d"
}

case "$cmd" in
start) start ;;
url)
	d=$(datadir)
	running "$d" || exit 1
	url_of "$d"
	;;
stop)
	d=$(datadir)
	if running "$d"; then as_pg "$BIN/pg_ctl" -D "$d" -m fast -w stop >/dev/null; fi
	;;
destroy)
	d=$(datadir)
	if running "$d"; then as_pg "$BIN/pg_ctl" -D "$d" -m fast -w stop >/dev/null; fi
	rm -rf "$d" "$repo/.data/pg-$name.location"
	;;
*)
	echo "usage: $0 start|url|stop|destroy NAME [--fast]" >&2
	exit 2
	;;
esac
