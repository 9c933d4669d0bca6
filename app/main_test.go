package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagenes/imagenes/internal/dbtest"
)

func TestRunUsageAndConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantUsage bool   // exit code 2
		wantErr   string // substring of the one-line error; "" = success
		wantOut   string
	}{
		{name: "no subcommand", args: nil, wantUsage: true, wantErr: "no subcommand"},
		{name: "unknown subcommand", args: []string{"frobnicate"}, wantUsage: true, wantErr: `unknown subcommand "frobnicate"`},
		{name: "version", args: []string{"version"}, wantOut: "imagenes dev"},
		{name: "bad retention", args: []string{"serve"}, env: map[string]string{"TRASH_RETENTION": "forever"}, wantUsage: true, wantErr: "TRASH_RETENTION:"},
		{name: "bad schedule flag", args: []string{"serve", "--janitor-schedule", "sometimes"}, wantUsage: true, wantErr: "JANITOR_SCHEDULE:"},
		{name: "bad log level", args: []string{"serve"}, env: map[string]string{"LOG_LEVEL": "loud"}, wantUsage: true, wantErr: "LOG_LEVEL:"},
		{name: "no database", args: []string{"serve"}, wantUsage: true, wantErr: "DATABASE_URL: not set"},
		{name: "migrate without verb", args: []string{"migrate"}, wantUsage: true, wantErr: "migrate up"},
		{name: "token without secret", args: []string{"token", "--sub", "ana"}, wantUsage: true, wantErr: "JWT_SECRET"},
		{name: "token without sub", args: []string{"token"}, env: map[string]string{"JWT_SECRET": "0123456789abcdef0123"}, wantUsage: true, wantErr: "--sub"},
		{name: "token bad role", args: []string{"token", "--sub", "ana", "--role", "root"}, env: map[string]string{"JWT_SECRET": "0123456789abcdef0123"}, wantUsage: true, wantErr: "--role"},
		{name: "token", args: []string{"token", "--sub", "ana", "--role", "admin"}, env: map[string]string{"JWT_SECRET": "0123456789abcdef0123"}, wantOut: "eyJ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, envOf(tt.env), &out, &errOut)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if errors.Is(err, errUsage) != tt.wantUsage {
					t.Errorf("got usage error %v, want %v", errors.Is(err, errUsage), tt.wantUsage)
				}
				if strings.Contains(strings.TrimSuffix(err.Error(), "\n"), "\n") {
					t.Errorf("got a multi-line error %q, want one line", err)
				}
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("got output %q, want it to contain %q", out.String(), tt.wantOut)
			}
		})
	}
}

func TestTokenIsAdminHS256(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	secret := "0123456789abcdef0123"
	if err := run(context.Background(), []string{"token", "--sub", "ana", "--role", "admin", "--ttl", "2h"}, envOf(map[string]string{"JWT_SECRET": secret}), &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse(strings.TrimSpace(out.String()), func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		t.Fatalf("got an unverifiable token: %v", err)
	}
	c := tok.Claims.(jwt.MapClaims)
	if c["sub"] != "ana" || c["role"] != "admin" {
		t.Errorf("got claims %v, want sub ana and role admin", c)
	}
}

// serve starts, migrates nothing itself, answers /healthz and /readyz, and
// stops cleanly when its context ends (SIGTERM in production).
func TestServeLifecycle(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.New(t)
	env := map[string]string{
		"DATABASE_URL": dbURL, "STORAGE_DIR": t.TempDir(),
		"JWT_SECRET": "0123456789abcdef0123", "LOG_LEVEL": "warn",
		"JANITOR_ENABLED": "true", "JANITOR_SCHEDULE": "@every 1s",
	}
	sigterm, wait := serveInBackground(t, env)
	addr := env["HTTP_ADDR"]
	res, err := http.Get(fmt.Sprintf("http://%s/metrics", addr))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, name := range []string{"imagenes_http_requests_total", "imagenes_db_pool_conns", "imagenes_db_pool_max_conns",
		"imagenes_trash_entries 0", "imagenes_trash_oldest_age_seconds 0", "go_goroutines"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
	var ok bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", "--path", "/readyz"}, envOf(env), &ok, &bytes.Buffer{}); err != nil || ok.String() != "ok\n" {
		t.Errorf("healthcheck: got %v %q, want ok", err, ok.String())
	}
	sigterm()
	if err := wait(); err != nil {
		t.Errorf("got serve error %v, want a clean shutdown", err)
	}
	if err := run(context.Background(), []string{"healthcheck"}, envOf(env), &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("healthcheck of a stopped server: got no error")
	}
}

func TestServeRefusesPendingMigrations(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.NewEmpty(t)
	env := map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0"}
	err := run(context.Background(), []string{"serve"}, envOf(env), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "migrate up") {
		t.Fatalf("got %v, want a refusal telling to run `imagenes migrate up`", err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "up"}, envOf(env), &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	if !strings.HasPrefix(out.String(), "schema version") || strings.Contains(out.String(), "pending") {
		t.Errorf("got %q, want the schema fully migrated", out.String())
	}
}

// janitor --once runs one pass and prints SPEC §6's counts; it refuses a
// storage folder without the marker that serve writes.
func TestJanitorOnce(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.New(t)
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": dir, "LOG_LEVEL": "warn"}
	var out bytes.Buffer
	err := run(context.Background(), []string{"janitor", "--once", "--json"}, envOf(env), &out, &bytes.Buffer{})
	if err == nil || !strings.Contains(out.String(), `"refused"`) {
		t.Fatalf("without the marker: got %v and %s, want a refusal in the report", err, out.String())
	}
	if err := os.WriteFile(filepath.Join(dir, ".imagenes-storage"), []byte("imagenes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"janitor", "--once", "--json", "--dry-run"}, envOf(env), &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("janitor --once: %v", err)
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("got %q, want one JSON object: %v", out.String(), err)
	}
	for _, k := range []string{"recovered", "purged", "orphans", "unattached", "dangling", "repaired", "dry_run", "duration_ms"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report %s lacks %q", out.String(), k)
		}
	}
	if rep["dry_run"] != true {
		t.Errorf("got dry_run %v, want true", rep["dry_run"])
	}
	out.Reset()
	if err := run(context.Background(), []string{"janitor", "--once"}, envOf(env), &out, &bytes.Buffer{}); err != nil || !strings.HasPrefix(out.String(), "janitor: recovered 0") {
		t.Errorf("got %v and %q, want the summary line", err, out.String())
	}
	if err := run(context.Background(), []string{"janitor", "--json"}, envOf(env), &out, &bytes.Buffer{}); err == nil {
		t.Errorf("janitor --json without --once: got no error, want a usage error")
	}
}

// TestHelpPrintsNoSecret: --help once printed the environment's values as
// the flags' defaults, JWT_SECRET and the DATABASE_URL password among them.
func TestHelpPrintsNoSecret(t *testing.T) {
	t.Parallel()
	const secret, password = "s3cret-0123456789abcdef", "hunter2pw"
	env := envOf(map[string]string{
		"JWT_SECRET":   secret,
		"DATABASE_URL": "postgres://app:" + password + "@db.example:5432/imagenes",
		"JWKS_URL":     "https://user:" + password + "@idp.example/jwks.json",
	})
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"janitor", "--help"}, {"migrate", "--help"}, {"token", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, env, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), "--jwt-secret") && !strings.Contains(err.Error(), "-jwt-secret") {
				t.Fatalf("got %v, want the usage listing the flags", err)
			}
			all := err.Error() + out.String() + errOut.String()
			for _, s := range []string{secret, password} {
				if strings.Contains(all, s) {
					t.Errorf("help prints the secret %q:\n%s", s, all)
				}
			}
		})
	}
}
