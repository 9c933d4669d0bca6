package handlers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/storagetest"
)

// TestStaticCacheFollowsTheFile: the static route answers small files from
// memory; every change to the file on disk — a delete, a move away and
// back, a replacement, a symlink put in its place — shows in the very next
// answer, though the file was cached. The changes are made on the disk
// behind the service's back, as the standalone janitor or an operator
// would, so nothing but the route's own revalidation can notice them.
func TestStaticCacheFollowsTheFile(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "secret.png")
	if err := os.WriteFile(outside, []byte("TOP SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		change     func(t *testing.T, file string)
		wantStatus int
		wantBody   string // "" : the original bytes
	}{
		{"deleted", func(t *testing.T, file string) { ok(t, os.Remove(file)) }, 404, ""},
		{"moved to a trash", func(t *testing.T, file string) { ok(t, os.Rename(file, file+".gone")) }, 404, ""},
		{"moved away and back", func(t *testing.T, file string) {
			ok(t, os.Rename(file, file+".away"))
			ok(t, os.Rename(file+".away", file))
		}, 200, ""},
		{"replaced by other bytes", func(t *testing.T, file string) {
			ok(t, os.WriteFile(file+".new", []byte("NEW BYTES"), 0o644))
			ok(t, os.Chtimes(file+".new", time.Now(), time.Now().Add(time.Hour)))
			ok(t, os.Rename(file+".new", file))
		}, 200, "NEW BYTES"},
		{"symlink put in its place", func(t *testing.T, file string) {
			ok(t, os.Remove(file))
			ok(t, os.Symlink(outside, file))
		}, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{storage: storagetest.Disk})
			_, url := e.upload(pngBytes)
			file := e.livePath(url)
			first := e.do(t, req{method: "GET", path: url})
			again := e.do(t, req{method: "GET", path: url}) // from the cache
			if first.status != 200 || again.status != 200 || string(again.body) != string(pngBytes) {
				t.Fatalf("before the change: got %d, %d, want 200 twice with the file", first.status, again.status)
			}
			tt.change(t, file)
			got := e.do(t, req{method: "GET", path: url})
			if got.status != tt.wantStatus {
				t.Fatalf("got %d %.100q, want %d", got.status, got.body, tt.wantStatus)
			}
			if strings.Contains(string(got.body), "TOP SECRET") {
				t.Fatalf("got the file outside the storage root")
			}
			if tt.wantStatus != 200 {
				return
			}
			want := string(pngBytes)
			if tt.wantBody != "" {
				want = tt.wantBody
			}
			if string(got.body) != want {
				t.Fatalf("got %d bytes %.20q, want %.20q", len(got.body), got.body, want)
			}
			etag := got.header.Get("ETag")
			if tt.wantBody != "" && etag == first.header.Get("ETag") {
				t.Errorf("got the old ETag %s for new bytes", etag)
			}
			if r := e.do(t, req{method: "GET", path: url, header: map[string]string{"If-None-Match": etag}}); r.status != 304 {
				t.Errorf("revalidation with the current ETag: got %d, want 304", r.status)
			}
		})
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
