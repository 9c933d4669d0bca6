// Package failover holds the failover tests (failover_test.go): the real
// binary on a PostgreSQL primary with a streaming standby of its own
// (scripts/localpg.sh start-pair) behind a two-host DATABASE_URL, the
// primary SIGKILLed under load and the standby promoted. `make test` runs a
// short form; `make failover` runs it for FAILOVER_SECONDS. Test-only: it
// never touches the shared test cluster, and destroys its pair.
package failover
