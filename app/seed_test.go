package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
)

// seed writes through the storage the configuration names: with
// STORAGE_URL=s3://… every seeded row's object is in the bucket (make bench
// BACKEND=s3 deletes them there), not in a local folder. Orphans need a
// folder (an object's Last-Modified cannot be aged) and are refused on a
// bucket before anything is written.
func TestSeedWritesToTheConfiguredStorage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		s3        bool
		args      []string
		wantUsage bool
		wantRows  int // rows the database gained
		wantLive  int // live files or objects
	}{
		{"folder", false, []string{"--n", "40", "--orphans", "3", "--dangling", "2"}, false, 42, 43},
		{"bucket", true, []string{"--n", "40", "--dangling", "2"}, false, 42, 40},
		{"bucket refuses orphans", true, []string{"--n", "40", "--orphans", "1"}, true, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, dbURL := dbtest.New(t)
			env := map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": t.TempDir(), "LOG_LEVEL": "error"}
			if tc.s3 {
				env = s3Env(s3test.Bucket(t), dbURL)
			}
			err := run(context.Background(), append([]string{"seed"}, tc.args...), envOf(env), io.Discard, io.Discard)
			if tc.wantUsage {
				if !errors.Is(err, errUsage) {
					t.Fatalf("seed: %v, want a usage error", err)
				}
			} else if err != nil {
				t.Fatalf("seed: %v", err)
			}
			cfg, err := loadConfig(flag.NewFlagSet("check", flag.ContinueOnError), nil, envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			files, err := openStorage(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer files.Close()
			if _, isBucket := files.(*objstore.Store); isBucket != tc.s3 {
				t.Fatalf("storage %s, want a bucket: %v", files.Root(), tc.s3)
			}
			live := 0
			if err := files.WalkLive(t.Context(), func(string, fs.DirEntry) error { live++; return nil }); err != nil {
				t.Fatal(err)
			}
			// The images come first, the dangling rows (no file) last.
			rows, err := pool.Query(context.Background(), "SELECT url FROM producto_imagenes ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			urls, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			if len(urls) != tc.wantRows || live != tc.wantLive {
				t.Errorf("rows %d, live files %d; want %d and %d", len(urls), live, tc.wantRows, tc.wantLive)
			}
			for i, u := range urls {
				ok, err := files.LiveExists(t.Context(), u)
				if want := i < 40; ok != want || err != nil {
					t.Errorf("row %d (%s): file there %v (%v), want %v", i+1, u, ok, err, want)
				}
			}
			if ok, err := files.MarkerExists(t.Context()); ok == tc.wantUsage || err != nil {
				t.Errorf("marker written %v (%v), want %v", ok, err, !tc.wantUsage)
			}
		})
	}
}
