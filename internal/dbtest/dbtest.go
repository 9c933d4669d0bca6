// Package dbtest gives each test its own PostgreSQL database, cloned from a
// migrated template, and dropped when the test ends. Test-only.
//
// The server comes from IMAGENES_TEST_DATABASE_URL (set by `make test`,
// which starts a throwaway cluster). Without it a test that needs the
// database fails, saying how to get one: it never skips.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/migrations"
)

// EnvURL names the variable holding the test server's URL.
const EnvURL = "IMAGENES_TEST_DATABASE_URL"

// ServerURL returns the test server URL or fails the test.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Fatalf("%s is not set: run `make test` (it starts a local PostgreSQL), or export %s=postgres://... of a server where this user may CREATE DATABASE", EnvURL, EnvURL)
	}
	return u
}

// New creates a fresh migrated database and returns a pool on it and its
// URL. Both are closed and dropped in t.Cleanup.
func New(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	server := ServerURL(t)
	return create(t, server, ensureTemplate(t, server))
}

// NewStore is New wrapped in a repo.Store.
func NewStore(t testing.TB) (*repo.Store, *pgxpool.Pool) {
	t.Helper()
	pool, _ := New(t)
	return repo.New(pool), pool
}

// NewEmpty creates an empty database (no migrations) for tests of the
// migrations themselves; dropped in t.Cleanup.
func NewEmpty(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	return create(t, ServerURL(t), "")
}

// create makes database imagenes_test_<random>, from template when given,
// and opens a pool on it; t.Cleanup closes the pool and drops the database.
func create(t testing.TB, server, template string) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	name := "imagenes_test_" + randomHex(6)
	q := `CREATE DATABASE ` + name
	if template != "" {
		q += ` TEMPLATE ` + template
	}
	admin := connect(t, server)
	_, err := admin.Exec(ctx, q)
	admin.Close(ctx)
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	dbURL := withDatabase(t, server, name)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("parse %s: %v", redact(dbURL), err)
	}
	cfg.MaxConns = 24
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		c := connect(t, server)
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return pool, dbURL
}

// ensureTemplate creates, once per migration set, a migrated database to
// clone. Its name carries a hash of the migrations, so changing a migration
// makes a new template instead of reusing a stale one. Test binaries of
// several packages run at once; an advisory lock makes one of them build it.
func ensureTemplate(t testing.TB, server string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "imagenes_tmpl_" + migrationsHash(t)

	admin := connect(t, server)
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(hashtext('imagenes_dbtest_template'))`); err != nil {
		t.Fatalf("lock template: %v", err)
	}
	defer admin.Exec(ctx, `SELECT pg_advisory_unlock(hashtext('imagenes_dbtest_template'))`) //nolint:errcheck

	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatalf("look up template: %v", err)
	}
	if exists {
		return name
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create template: %v", err)
	}
	pool, err := pgxpool.New(ctx, withDatabase(t, server, name))
	if err != nil {
		t.Fatalf("open template: %v", err)
	}
	err = repo.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name) //nolint:errcheck
		t.Fatalf("migrate template: %v", err)
	}
	return name
}

func migrationsHash(t testing.TB) string {
	t.Helper()
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatalf("hash migrations: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func connect(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatalf("connect to test server (%s=%s): %v — run `make test`, which starts it", EnvURL, redact(u), err)
	}
	return c
}

func withDatabase(t testing.TB, server, name string) string {
	t.Helper()
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
