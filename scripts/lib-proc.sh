# proc.sh — CPU ticks from /proc, sourced by scripts/bench.sh and
# scripts/janitor-measure.sh after they set PGDATA_DIR (the cluster's data
# directory).

# CPU ticks of one process (utime+stime; with its reaped children's when $2
# is 1). Fields after "pid (comm) ": $12 utime, $13 stime, $14 cutime, $15 cstime.
ticks() { awk -v kids="${2:-0}" '{sub(/^.*\) /, ""); print $12 + $13 + kids * ($14 + $15)}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# PostgreSQL's ticks: the postmaster with every backend it reaped, plus the
# live ones (a backend that exits moves its ticks into the postmaster's).
pg_ticks() {
	local pm t c
	pm=$(head -1 "$PGDATA_DIR/postmaster.pid")
	t=$(ticks "$pm" 1)
	for c in $(ps --ppid "$pm" -o pid=); do t=$((t + $(ticks "$c"))); done
	echo "$t"
}
