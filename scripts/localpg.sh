#!/usr/bin/env bash
# localpg.sh — throwaway PostgreSQL clusters for development (`make run`),
# the test suite (`make test`) and benchmarks (`make bench`), so that a fresh
# clone needs nothing but the PostgreSQL server binaries.
#
#   scripts/localpg.sh start NAME [--fast]  start (or reuse) cluster NAME; prints ONLY its URL on stdout
#   scripts/localpg.sh url NAME             print the URL of the running cluster NAME (exit 1 if it is not running)
#   scripts/localpg.sh stop NAME [--immediate]  stop it (fast shutdown; --immediate: as a crash
#                                           would, no checkpoint, recovery at the next start), if it runs
#   scripts/localpg.sh destroy NAME         stop it and delete its data folder
#
# A primary and a streaming standby, for failover tests (`make failover`):
#   scripts/localpg.sh start-pair NAME [--fast]  start (or reuse) clusters NAME-primary and
#                                           NAME-standby (pg_basebackup -R: asynchronous
#                                           streaming replication); prints ONLY the two-host URL
#                                           postgres://postgres@127.0.0.1:P1,127.0.0.1:P2/postgres?target_session_attrs=read-write&sslmode=disable
#   scripts/localpg.sh kill NAME            SIGKILL cluster NAME's postmaster and every process
#                                           it started, as a lost machine (the data folder stays)
#   scripts/localpg.sh promote NAME         promote standby cluster NAME to primary (waits)
#   scripts/localpg.sh detach NAME          stop standby cluster NAME's streaming: what the
#                                           primary commits from then on never reaches it
#   scripts/localpg.sh lsn NAME             the WAL position cluster NAME has (primary: written,
#                                           standby: replayed)
#   scripts/localpg.sh destroy-pair NAME    destroy NAME-primary and NAME-standby
#
# NAME is a short word such as dev, test or bench. The URL looks like
#   postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable
# and is also written to <datadir>/url. Every other message goes to stderr,
# so `URL=$(scripts/localpg.sh start test --fast)` is safe.
#
# Security: the cluster uses trust authentication with no password and listens
# on 127.0.0.1 only (plus a Unix socket inside its own data folder). That is
# fine for a throwaway dev/test cluster on one's own machine and never for
# anything that holds real data.
#
# --fast turns off fsync, synchronous_commit and full_page_writes: a crash may
# lose or corrupt the cluster, which is acceptable for the test suite only.
# The bench cluster must be started without it so numbers reflect durable
# commits.
#
# Runs as root (CI, containers): initdb and postgres refuse to run as root, so
# they run as the `postgres` system user. Runs as anyone else (a developer's
# laptop): everything runs as the current user.
set -euo pipefail

usage() {
	echo "usage: $0 start NAME [--fast] | url NAME | stop NAME [--immediate] | destroy NAME" >&2
	echo "       $0 start-pair NAME [--fast] | kill NAME | promote NAME | detach NAME | lsn NAME | destroy-pair NAME" >&2
	exit 2
}

log() { printf 'localpg: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

cmd=${1:-}
name=${2:-}
[[ -n "$cmd" && -n "$name" ]] || usage
# NAME becomes part of paths and of an rm -rf: keep it to a plain word.
[[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || die "bad cluster name '$name' (letters, digits, _ and - only)"
shift 2
fast=0
mode=fast
for arg in "$@"; do
	case "$arg" in
	--fast)
		[[ "$cmd" == start || "$cmd" == start-pair ]] || usage
		fast=1
		;;
	--immediate)
		[[ "$cmd" == stop ]] || usage
		mode=immediate
		;;
	*) usage ;;
	esac
done

# The repo root is the script's own ../, resolved without symlinks so that
# the fallback folder's name (a hash of this path) is stable.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
datahome="$repo/.data"

is_root() { [[ $(id -u) -eq 0 ]]; }

if is_root && ! id -u postgres >/dev/null 2>&1; then
	die "running as root needs a 'postgres' system user (initdb and postgres refuse to run as root); run as a normal user instead"
fi

# as_pg runs a PostgreSQL program as the user that owns the cluster. As root
# that is the postgres user, started from / because the caller's working
# directory (say a clone below /root, mode 700) may be closed to it. Every
# descriptor above stderr is closed first: fd 9 is the lock below, and the
# caller's may hold another (`flock /tmp/imagenes-measure.lock make bench`
# hands its lock to the script as fd 3); a postmaster started from here
# would hold such a lock for its whole life, and every later measurement
# would wait for it.
as_pg() {
	if is_root; then
		(close_fds && cd / && exec runuser -u postgres -- "$@")
	else
		(close_fds && exec "$@")
	fi
}

close_fds() {
	local fd
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
	done
}

# PostgreSQL binaries: pg_config's bindir when it has the server programs
# (Debian's pg_config may come from a newer libpq-dev than the server), else
# the highest installed /usr/lib/postgresql/<major>/bin.
find_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
			echo "$d"
			return
		fi
	fi
	d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5n | tail -n 1)
	if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
		echo "$d"
		return
	fi
	die "no PostgreSQL server binaries found (Debian: apt-get install postgresql)"
}
BIN=$(find_bindir)

# Where the data folder lives. Normally ./.data/pg-NAME in the repo. As root,
# the postgres user must be able to reach and write that folder, which fails
# when the clone sits below a folder it cannot traverse (CI cloning into
# /root/..., mode 700). Then the cluster lives in
# /var/tmp/imagenes-pg-<first 12 hex of sha1(repo path)>-NAME instead: /var/tmp
# is world-traversable, survives reboots like ./.data would, and the hash keeps
# clones at different paths apart. ./.data/pg-NAME.location records that
# choice for later calls and for humans. A note is only believed when it names
# this clone's own fallback folder, since destroy runs rm -rf on it.
sha1() {
	if command -v sha1sum >/dev/null 2>&1; then
		printf '%s' "$1" | sha1sum | cut -c1-12
	else
		printf '%s' "$1" | shasum -a 1 | cut -c1-12
	fi
}

# use_cluster NAME makes NAME the cluster the functions below work on (a
# pair's commands switch between its two clusters).
use_cluster() {
	name=$1
	inrepo="$datahome/pg-$name"
	note="$datahome/pg-$name.location"
	fallback="/var/tmp/imagenes-pg-$(sha1 "$repo")-$name"
}
use_cluster "$name"

# find_datadir prints the data folder of an existing cluster NAME, or fails.
find_datadir() {
	if [[ -f "$note" && "$(<"$note")" == "$fallback" && -d "$fallback" ]]; then
		echo "$fallback"
	elif [[ -f "$inrepo/PG_VERSION" ]]; then
		echo "$inrepo"
	elif [[ -f "$fallback/PG_VERSION" ]]; then
		# The note was lost (say .data removed by hand) but the cluster is there.
		echo "$fallback"
	else
		return 1
	fi
}

# make_datadir finds or creates the data folder for start.
make_datadir() {
	local d
	if d=$(find_datadir); then
		echo "$d"
		return
	fi
	mkdir -p "$inrepo"
	if ! is_root; then
		rm -f "$note"
		echo "$inrepo"
		return
	fi
	chown postgres: "$inrepo"
	chmod 700 "$inrepo"
	if runuser -u postgres -- test -w "$inrepo" 2>/dev/null; then
		rm -f "$note"
		echo "$inrepo"
		return
	fi
	rmdir "$inrepo"
	log "the postgres user cannot reach $inrepo; keeping cluster '$name' in $fallback"
	mkdir -p "$fallback"
	chown postgres: "$fallback"
	chmod 700 "$fallback"
	echo "$fallback" >"$note"
	echo "$fallback"
}

running() {
	[[ -f "$1/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# The port a running cluster listens on is line 4 of postmaster.pid, which
# the server itself wrote, so it is right even if the port file is not.
running_port() { sed -n 4p "$1/postmaster.pid"; }

url_for() { echo "postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable"; }

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -d postgres -U postgres -t 2; }

# wait_ready waits until the server answers on 127.0.0.1 (30 s in all).
wait_ready() {
	local port=$1 deadline=$((SECONDS + 30))
	until ready "$port"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# A port is in use when a PostgreSQL answers on it (pg_isready: 0 accepting,
# 1 rejecting, e.g. starting up) or anything at all accepts a TCP connection.
port_in_use() {
	local rc=0
	"$BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -t 2 || rc=$?
	((rc == 0 || rc == 1)) && return 0
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Ports recorded by this clone's other clusters, stopped or not: skipping
# them keeps each cluster's URL stable across restarts.
claimed_ports() {
	local f
	for f in "$datahome"/pg-*/port /var/tmp/imagenes-pg-"$(sha1 "$repo")"-*/port; do
		[[ -f "$f" && "$f" != "$1/port" ]] && cat "$f"
	done
	return 0
}

# pick_port prints the first free port from 55432 on (after $2, if given).
pick_port() {
	local d=$1 port=${2:-55431} claimed
	claimed=" $(claimed_ports "$d" | tr '\n' ' ') "
	while ((++port < 56432)); do
		[[ "$claimed" == *" $port "* ]] && continue
		port_in_use "$port" || {
			echo "$port"
			return
		}
	done
	die "no free TCP port on 127.0.0.1 between 55432 and 56431"
}

# put writes a small file into the data folder, owned like the rest of it.
put() {
	printf '%s\n' "$2" >"$1"
	if is_root; then chown postgres: "$1"; fi
}

# sq quotes a word for /bin/sh: pg_ctl hands its -o options to a shell.
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

do_initdb() {
	local d=$1 out
	if [[ -n "$(ls -A "$d")" ]]; then
		# An earlier initdb died half way; initdb refuses a non-empty folder.
		log "clearing $d, left over from an unfinished initdb"
		find "$d" -mindepth 1 -delete
	fi
	log "initdb $d"
	# C.UTF-8: byte-order collation (stable, fast) with UTF-8 character
	# classes. Older systems lack it; plain C then, still with UTF8 encoding.
	if out=$(as_pg "$BIN/initdb" -D "$d" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 2>&1); then
		return
	fi
	log "initdb with locale C.UTF-8 failed; trying locale C"
	if [[ -n "$(ls -A "$d")" ]]; then find "$d" -mindepth 1 -delete; fi
	if ! out=$(as_pg "$BIN/initdb" -D "$d" -U postgres --auth=trust --encoding=UTF8 --locale=C 2>&1); then
		printf '%s\n' "$out" >&2
		die "initdb failed"
	fi
}

start() {
	local d port opts sock attempt
	d=$(make_datadir)
	if running "$d"; then
		port=$(running_port "$d")
		# A running cluster keeps the settings it started with.
		if grep -q 'fsync=off' "$d/postmaster.opts" 2>/dev/null; then
			((fast)) || log "warning: cluster '$name' is running with --fast settings (no fsync); stop it and start again for durable ones"
		else
			((!fast)) || log "note: cluster '$name' is already running with durable settings (started without --fast)"
		fi
		wait_ready "$port" || die "cluster '$name' runs but does not answer on 127.0.0.1:$port; see $d/server.log"
		put "$d/url" "$(url_for "$port")"
		url_for "$port"
		return
	fi
	[[ -f "$d/PG_VERSION" ]] || do_initdb "$d"

	# Reuse the stored port when it is still free, so URLs stay the same.
	port=$(cat "$d/port" 2>/dev/null || true)
	if ! [[ "$port" =~ ^[0-9]+$ ]] || port_in_use "$port"; then
		port=$(pick_port "$d")
	fi

	# The Unix socket sits in the data folder, away from /var/run/postgresql
	# (which another cluster may use, or which may not exist). A socket path
	# is limited to 107 bytes and a deep clone would exceed it; then the
	# cluster gets no socket at all (clients use TCP anyway) rather than
	# failing to start. Commas and quotes would be misread in that list.
	sock=$d
	if ((${#d} + 16 > 107)) || [[ "$d" == *[,\"]* ]]; then
		log "data folder path too long or odd for a Unix socket; TCP only"
		sock=""
	fi

	# A port found free may be taken before the server binds it (another
	# clone starting at the same time): then try the next free one.
	for attempt in 1 2 3 4 5; do
		put "$d/port" "$port"
		opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$(sq "$sock")"
		opts+=" -c max_connections=300 -c shared_buffers=128MB"
		if ((fast)); then
			opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		fi
		log "starting cluster '$name' on 127.0.0.1:$port ($d)"
		if as_pg "$BIN/pg_ctl" -D "$d" -l "$d/server.log" -o "$opts" -w -t 30 -s start >&2 &&
			wait_ready "$port"; then
			put "$d/url" "$(url_for "$port")"
			url_for "$port"
			return
		fi
		if ! running "$d" && ((attempt < 5)) && [[ "$(tail -n 5 "$d/server.log" 2>/dev/null)" == *"could not bind"* ]]; then
			log "port $port was taken meanwhile; trying another"
			port=$(pick_port "$d" "$port")
			continue
		fi
		break
	done
	log "PostgreSQL cluster '$name' did not start (waited up to 30 s); last lines of $d/server.log:"
	tail -n 30 "$d/server.log" >&2 || true
	exit 1
}

stop() {
	local d=$1
	if running "$d"; then
		log "stopping cluster '$name' ($mode)"
		as_pg "$BIN/pg_ctl" -D "$d" -m "$mode" -w -s stop >&2
	fi
}

# One caller at a time per cluster: two `make` targets starting the same
# cluster at once must not both run initdb or pick ports. flock is in
# util-linux; where it is missing (macOS) we go without.
lock() {
	mkdir -p "$datahome"
	command -v flock >/dev/null 2>&1 || return 0
	exec 9>>"$datahome/pg-$name.lock"
	flock -w 120 9 || die "another localpg.sh call holds $datahome/pg-$name.lock"
}

# pair_url prints the two-host URL of a pair: libpq and pgx try the hosts in
# turn and keep the first that takes writes, so after a promotion the same
# URL reaches the new primary.
pair_url() {
	echo "postgres://postgres@127.0.0.1:$1,127.0.0.1:$2/postgres?target_session_attrs=read-write&sslmode=disable"
}

# start_pair starts NAME-primary, then NAME-standby: a base backup of the
# primary (-R writes primary_conninfo and standby.signal; -X stream brings
# the WAL written meanwhile) started as a hot standby on a port of its own.
start_pair() {
	local base=$name d url1 url2
	use_cluster "$base-primary"
	lock
	url1=$(start)
	use_cluster "$base-standby"
	lock
	d=$(make_datadir)
	if [[ ! -f "$d/PG_VERSION" ]]; then
		if [[ -n "$(ls -A "$d")" ]]; then find "$d" -mindepth 1 -delete; fi
		log "base backup of '$base-primary' into $d"
		# The primary's Unix socket sits in its data folder: the backup
		# skips it, with a warning each time, which says nothing here.
		as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$(port_of "$url1")" -U postgres -D "$d" -R -X stream -c fast 2>&1 |
			grep -v 'skipping special file' >&2 || true
		[[ -f "$d/PG_VERSION" && -f "$d/standby.signal" ]] || die "pg_basebackup from '$base-primary' failed"
		rm -f "$d/port" "$d/url" # the primary's: the standby gets a port of its own
	fi
	url2=$(start)
	pair_url "$(port_of "$url1")" "$(port_of "$url2")"
}

port_of() {
	local hp=${1#*@127.0.0.1:}
	echo "${hp%%/*}"
}

# kill_cluster SIGKILLs the postmaster and its children at once: no
# shutdown checkpoint, no goodbye to the standby, the clients' connections
# reset — a primary whose machine is gone.
kill_cluster() {
	local d=$1 pm kids
	[[ -f "$d/postmaster.pid" ]] || die "cluster '$name' is not running"
	pm=$(head -n 1 "$d/postmaster.pid")
	kill -0 "$pm" 2>/dev/null || die "cluster '$name' is not running"
	kids=$(pgrep -P "$pm" || true)
	log "SIGKILL cluster '$name' (postmaster $pm and $(echo $kids | wc -w) children)"
	# shellcheck disable=SC2086 # one pid a word
	kill -KILL "$pm" $kids 2>/dev/null || true
	local deadline=$((SECONDS + 30))
	while kill -0 "$pm" 2>/dev/null; do
		((SECONDS < deadline)) || die "postmaster $pm still there 30 s after SIGKILL"
		sleep 0.1
	done
}

psql_on() {
	local d=$1
	shift
	running "$d" || die "cluster '$name' is not running"
	"$BIN/psql" -X -q -A -t -h 127.0.0.1 -p "$(running_port "$d")" -U postgres -d postgres "$@"
}

case "$cmd" in
start)
	lock
	start
	;;
start-pair)
	start_pair
	;;
kill)
	d=$(find_datadir) || die "no cluster '$name'"
	kill_cluster "$d"
	;;
promote)
	d=$(find_datadir) || die "no cluster '$name'"
	running "$d" || die "cluster '$name' is not running"
	log "promoting cluster '$name'"
	as_pg "$BIN/pg_ctl" -D "$d" -w -t 60 -s promote >&2
	;;
detach)
	d=$(find_datadir) || die "no cluster '$name'"
	[[ -f "$d/standby.signal" ]] || die "cluster '$name' is not a standby"
	# The last setting in postgresql.auto.conf wins; a reload restarts the
	# WAL receiver with no primary to stream from.
	echo "primary_conninfo = ''" >>"$d/postgresql.auto.conf"
	psql_on "$d" -c 'SELECT pg_reload_conf()' >/dev/null
	deadline=$((SECONDS + 30))
	until [[ "$(psql_on "$d" -c 'SELECT count(*) FROM pg_stat_wal_receiver')" == 0 ]]; do
		((SECONDS < deadline)) || die "standby '$name' still streams 30 s after detach"
		sleep 0.1
	done
	log "standby '$name' no longer streams"
	;;
lsn)
	d=$(find_datadir) || die "no cluster '$name'"
	psql_on "$d" -c 'SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END'
	;;
destroy-pair)
	base=$name
	for c in "$base-standby" "$base-primary"; do
		use_cluster "$c"
		if d=$(find_datadir); then
			lock
			stop "$d"
			log "removing $d"
			rm -rf "$d"
		fi
		rm -rf "$note" "$inrepo" "$fallback"
	done
	exec 9>&-
	rm -f "$datahome/pg-$base-primary.lock" "$datahome/pg-$base-standby.lock"
	;;
url)
	d=$(find_datadir) || die "no cluster '$name'"
	running "$d" || die "cluster '$name' is not running"
	port=$(running_port "$d")
	ready "$port" || die "cluster '$name' does not answer on 127.0.0.1:$port"
	url_for "$port"
	;;
stop)
	d=$(find_datadir) || exit 0
	lock
	stop "$d"
	;;
destroy)
	if d=$(find_datadir); then
		lock
		stop "$d"
		log "removing $d"
		rm -rf "$d"
	fi
	rm -rf "$note" "$inrepo" "$fallback"
	;;
*)
	usage
	;;
esac
