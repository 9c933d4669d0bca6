# imagenes — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       ?= ./imagenes
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# A throwaway secret for local runs only; production sets JWT_SECRET or JWKS_URL.
DEV_SECRET ?= dev-secret-change-me-0123456789

# The binary is static; only `make test` turns cgo on, for the race detector.
export CGO_ENABLED ?= 0

.PHONY: help build run run-s3 minio-stop replicas failover test test-short vet fmt clean db-stop janitor-measure bench k6 crash fuzz e2e soak linearizable

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

build: ## build the binary ./imagenes
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./app

run: build ## serve on :8080; starts a local PostgreSQL under ./.data when DATABASE_URL is unset
	@set -euo pipefail; \
	if [ -z "$${DATABASE_URL:-}" ]; then \
	  DATABASE_URL=$$(scripts/localpg.sh start dev); \
	  echo "local PostgreSQL: $$DATABASE_URL (stop it with: make db-stop)" >&2; \
	fi; \
	export DATABASE_URL; \
	export JWT_SECRET="$${JWT_SECRET:-$(DEV_SECRET)}"; \
	export STORAGE_DIR="$${STORAGE_DIR:-./.data/storage}"; \
	export LOG_FORMAT="$${LOG_FORMAT:-console}"; \
	$(BIN) migrate up; \
	TOKEN=$$($(BIN) token --sub admin --role admin --ttl 24h); \
	ADDR="$${HTTP_ADDR:-:8080}"; PORT="$${ADDR##*:}"; \
	echo; echo "admin token (24h): $$TOKEN"; echo; \
	echo "try:"; \
	echo "  curl -s -H \"Authorization: Bearer $$TOKEN\" -F imagen=@some.png http://127.0.0.1:$$PORT/api/v1/admin/imagenes/subir"; \
	echo "  curl -s -X DELETE -H \"Authorization: Bearer $$TOKEN\" http://127.0.0.1:$$PORT/api/v1/admin/imagenes/1"; \
	echo; \
	exec $(BIN) serve

run-s3: build ## like make run, with the images in a bucket of a local MinIO (scripts/minio.sh) instead of a folder
	@set -euo pipefail; \
	if [ -z "$${DATABASE_URL:-}" ]; then \
	  DATABASE_URL=$$(scripts/localpg.sh start dev); \
	fi; \
	S3=$$(scripts/minio.sh start dev); \
	scripts/minio.sh bucket dev imagenes; \
	CREDS=$${S3#http://}; CREDS=$${CREDS%@*}; \
	export DATABASE_URL AWS_ACCESS_KEY_ID=$${CREDS%%:*} AWS_SECRET_ACCESS_KEY=$${CREDS#*:}; \
	export STORAGE_URL="s3://imagenes?endpoint=http://$${S3##*@}&path_style=true"; \
	echo "local MinIO: $${S3##*@}, bucket imagenes (stop it with: make minio-stop)" >&2; \
	export JWT_SECRET="$${JWT_SECRET:-$(DEV_SECRET)}" LOG_FORMAT="$${LOG_FORMAT:-console}"; \
	$(BIN) migrate up; \
	TOKEN=$$($(BIN) token --sub admin --role admin --ttl 24h); \
	echo; echo "admin token (24h): $$TOKEN"; echo; \
	exec $(BIN) serve

test: ## run every test, with the race detector, against a throwaway local PostgreSQL and MinIO
	@set -euo pipefail; \
	export IMAGENES_TEST_DATABASE_URL=$$(scripts/localpg.sh start test --fast); \
	export IMAGENES_TEST_S3_URL=$$(scripts/minio.sh start test); \
	$(GO) vet ./...; \
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./...; \
	echo "== the HTTP and janitor suites again, on the S3 backend (MinIO)"; \
	IMAGENES_TEST_STORAGE=s3 CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m -skip '^TestReplicas$$' ./internal/handlers/ ./internal/janitor/ ./internal/crashtest/ ./internal/linearize/

e2e: ## the nginx config beside Balsamoa with the real nginx, and the admin page in headless Chromium (both installed with apt-get when missing)
	scripts/e2e.sh

bench: ## delete throughput vs pgbench on the same transaction (RUNS=3 for spread; BACKEND=s3 adds a MinIO bucket beside the folder); results in bench/out/
	scripts/bench.sh

crash: ## the crash harness: CRASH_POINTS (default 500) SIGKILLs, each followed by restart, janitor and invariants; BACKEND=s3 on MinIO
	@set -euo pipefail; \
	export IMAGENES_TEST_DATABASE_URL=$$(scripts/localpg.sh start test --fast); \
	if [ "$${BACKEND:-disk}" = s3 ]; then export IMAGENES_TEST_S3_URL=$$(scripts/minio.sh start test) IMAGENES_TEST_STORAGE=s3; fi; \
	CRASH_POINTS=$${CRASH_POINTS:-500} $(GO) test -count=1 -timeout 90m -v -run TestCrashHarness ./internal/crashtest/ 2>&1 | grep -E 'survived|FAIL|ok|---|crash_test'

soak: ## the service and a standalone janitor (every 2s) under 8 lifecycle clients for SOAK (default 3m), then invariants, passes, logs, RSS and fds
	@set -euo pipefail; \
	export IMAGENES_TEST_DATABASE_URL=$$(scripts/localpg.sh start test --fast); \
	SOAK=$${SOAK:-3m} $(GO) test -count=1 -timeout $${SOAK_TIMEOUT:-3h} -v -run '^TestSoak$$' ./internal/soak/

replicas: ## three serve processes and two janitors on one database and one bucket (and one shared folder) for REPLICAS_SECONDS (default 30), then the invariants
	@set -euo pipefail; \
	export IMAGENES_TEST_DATABASE_URL=$$(scripts/localpg.sh start test --fast); \
	export IMAGENES_TEST_S3_URL=$$(scripts/minio.sh start test); \
	REPLICAS_SECONDS=$${REPLICAS_SECONDS:-30} $(GO) test -count=1 -timeout 30m -v -run '^TestReplicas$$' ./internal/crashtest/ 2>&1 | grep -E 'replicas_test|FAIL|ok|---'

linearizable: ## every answer checked as one history (porcupine) over LINEAR_SECONDS (default 120) with serve SIGKILLs and PostgreSQL crashes, on a cluster of its own; BACKEND=s3 on MinIO
	@set -euo pipefail; \
	if [ "$${BACKEND:-disk}" = s3 ]; then export IMAGENES_TEST_S3_URL=$$(scripts/minio.sh start test) IMAGENES_TEST_STORAGE=s3; fi; \
	LINEAR_SECONDS=$${LINEAR_SECONDS:-120} $(GO) test -count=1 -timeout 90m -v -run '^TestLinearizable$$' ./internal/linearize/ 2>&1 | grep -vE '^=== RUN'

failover: ## serve on a primary and a streaming standby (scripts/localpg.sh start-pair) under load for FAILOVER_SECONDS (default 120), the primary SIGKILLed and the standby promoted halfway; then the janitor and the invariants
	@set -euo pipefail; \
	FAILOVER_SECONDS=$${FAILOVER_SECONDS:-120} $(GO) test -count=1 -timeout 30m -v -run '^TestFailover$$' ./internal/failover/ 2>&1 | grep -E 'failover_test|FAIL|ok|---'

fuzz: ## every fuzz target for FUZZTIME each (default 20s); findings land in testdata/fuzz
	@set -euo pipefail; \
	export IMAGENES_TEST_DATABASE_URL=$$(scripts/localpg.sh start test --fast); \
	for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' internal | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed -E 's/func (Fuzz[A-Za-z0-9_]+).*/\1/'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $${FUZZTIME:-20s} ./$$pkg 2>&1 | grep -E 'elapsed|PASS|FAIL|ok|failing input' | tail -3; \
	  done; \
	done

k6: ## every k6 script against a fresh service, with thresholds; results in bench/out/k6/
	scripts/k6-all.sh

janitor-measure: ## time one janitor pass over N files and rows (default 100000), with peak memory
	N=$${N:-100000} scripts/janitor-measure.sh

minio-stop: ## stop the local MinIO servers
	-scripts/minio.sh stop dev
	-scripts/minio.sh stop test

db-stop: ## stop the local PostgreSQL clusters
	-scripts/localpg.sh stop dev
	-scripts/localpg.sh stop test
	-scripts/localpg.sh stop bench

fmt: ## gofmt every file
	gofmt -w $$(git ls-files '*.go')

clean: ## remove the binary and local data (databases, storage)
	-scripts/localpg.sh destroy dev
	-scripts/localpg.sh destroy test
	-scripts/localpg.sh destroy bench
	-scripts/minio.sh destroy dev
	-scripts/minio.sh destroy test
	rm -rf $(BIN) .data bench/out
