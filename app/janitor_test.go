package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/janitor"
)

// A dry run names every file it would move, grouped by step, and never a
// shop's own files; --json lists them with --verbose (issue 16).
func TestJanitorDryRunLists(t *testing.T) {
	t.Parallel()
	pool, dbURL := dbtest.New(t)
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": dir, "LOG_LEVEL": "warn", "JANITOR_ORPHAN_GRACE": "1s"}
	old := time.Now().Add(-time.Hour)
	write := func(url string) {
		p := filepath.Join(dir, filepath.FromSlash(url))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(url), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	write("/.imagenes-storage")
	kept, orphan, site := "/recursos/imagenes/productos/con fila.webp", "/recursos/imagenes/productos/sin fila.webp", "/recursos/css/estilos.css"
	for _, u := range []string{kept, orphan, site} {
		write(u)
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO producto_imagenes (url, orden, created_at) VALUES ($1, 1, NULL)`, kept); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		want     []string // lines of the output, in order
		wantNot  []string
		wantJSON bool
		profile  bool // with --cpuprofile: a gzipped pprof file is written
	}{
		{name: "dry run lists", args: []string{"--dry-run"},
			want:    []string{"orphans: product images without a row, to the trash (1):", "  " + orphan + "  ", "janitor: recovered 0, purged 0, orphans 1,"},
			wantNot: []string{site, kept}},
		{name: "json alone stays small", args: []string{"--dry-run", "--json"}, wantNot: []string{orphan, `"items"`}, wantJSON: true},
		{name: "json verbose lists", args: []string{"--dry-run", "--json", "--verbose"}, want: []string{`"items":{"orphans":[{"url":"` + orphan + `"`}, wantNot: []string{site}, wantJSON: true},
		{name: "cpu profile written", args: []string{"--dry-run", "--json"}, wantNot: []string{orphan}, wantJSON: true, profile: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"janitor", "--once"}, tt.args...)
			prof := filepath.Join(t.TempDir(), "cpu.pprof")
			if tt.profile {
				args = append(args, "--cpuprofile", prof)
			}
			if err := run(context.Background(), args, envOf(env), &out, &bytes.Buffer{}); err != nil {
				t.Fatalf("janitor: %v\n%s", err, out.String())
			}
			if tt.profile {
				b, err := os.ReadFile(prof)
				if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
					t.Errorf("cpu profile %s: %v, %d bytes, want a gzipped pprof profile", prof, err, len(b))
				}
			}
			got := out.String()
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("got\n%s\nwant %q (in this order)", got, w)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("got\n%s\nwant no %q", got, w)
				}
			}
			if tt.wantJSON && !json.Valid(out.Bytes()) {
				t.Errorf("got %q, want one JSON object", got)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(orphan))); err != nil {
		t.Errorf("a dry run moved %s: %v", orphan, err)
	}
}

// The summary of `imagenes janitor --once` names every count of the Report
// with its value (staging and purge kept were missing), and every kind of
// item the listing prints has a heading.
func TestJanitorSummaryNamesEveryCount(t *testing.T) {
	t.Parallel()
	var r janitor.Report
	v := reflect.ValueOf(&r).Elem()
	n := 0
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if v.Field(i).Kind() == reflect.Int && name != "items_omitted" {
			v.Field(i).SetInt(int64(100 + i))
			n++
		}
	}
	s := summary(r)
	if got := len(r.Counts()); got != n {
		t.Errorf("Counts has %d counts, the Report %d", got, n)
	}
	for _, c := range r.Counts() {
		if want := fmt.Sprintf("%s %d", c.Label(), c.N); !strings.Contains(s, want) {
			t.Errorf("summary %q does not say %q", s, want)
		}
	}
	for _, k := range janitor.ItemKinds() {
		if itemHeadings[k] == "" {
			t.Errorf("no heading for the items %q", k)
		}
	}
}
