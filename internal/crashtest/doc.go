// Package crashtest holds the crash harness (crash_test.go): it builds the
// real binary with `-tags faults`, runs it against a real PostgreSQL under a
// mixed load, kills it with SIGKILL at random moments and at the named
// points of internal/fault, restarts it, runs `janitor --once`, and checks
// that nothing was lost or leaked. `make test` runs a few crash points;
// `make crash` runs CRASH_POINTS (default 500).
package crashtest
