package handlers_test

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/thumbs/thumbstest"
	_ "golang.org/x/image/webp"
)

func decodeConfig(t testing.TB, b []byte) (image.Config, string) {
	t.Helper()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("thumbnail does not decode: %v (%d bytes)", err, len(b))
	}
	return cfg, format
}

// TestThumbnailEveryFormatAndWidth: each upload type at each allowed width
// gives width min(N, original), aspect kept, jpeg as jpeg and the rest png,
// with the originals' caching headers.
func TestThumbnailEveryFormatAndWidth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	formats := []struct {
		name, format string
		w, h         int
		wantFormat   string
		wantCT       string
	}{
		{"jpeg", "jpeg", 600, 400, "jpeg", "image/jpeg"},
		{"png", "png", 600, 300, "png", "image/png"},
		{"gif", "gif", 300, 600, "png", "image/png"},
		{"webp", "webp", 150, 100, "png", "image/png"},
	}
	for _, f := range formats {
		_, url := e.upload(thumbstest.Encoded(t, f.format, f.w, f.h))
		for _, w := range []int{64, 128, 256, 512, 1024} {
			t.Run(fmt.Sprintf("%s w=%d", f.name, w), func(t *testing.T) {
				r := e.do(t, req{method: "GET", path: fmt.Sprintf("%s?w=%d", url, w)})
				if r.status != 200 {
					t.Fatalf("got %d %s, want 200", r.status, r.body)
				}
				cfg, format := decodeConfig(t, r.body)
				wantW := min(w, f.w)
				wantH := (f.h*wantW + f.w/2) / f.w
				if cfg.Width != wantW || cfg.Height != wantH || format != f.wantFormat {
					t.Errorf("got %d×%d %s, want %d×%d %s", cfg.Width, cfg.Height, format, wantW, wantH, f.wantFormat)
				}
				for k, want := range map[string]string{
					"Content-Type": f.wantCT, "Cache-Control": "public, max-age=31536000, immutable",
				} {
					if got := r.header.Get(k); got != want {
						t.Errorf("%s: got %q, want %q", k, got, want)
					}
				}
				if r.header.Get("ETag") == "" || r.header.Get("Last-Modified") == "" {
					t.Errorf("missing ETag or Last-Modified: %v", r.header)
				}
				// A revalidation is a 304, as for the original.
				nm := e.do(t, req{method: "GET", path: fmt.Sprintf("%s?w=%d", url, w), header: map[string]string{"If-None-Match": r.header.Get("ETag")}})
				if nm.status != 304 {
					t.Errorf("If-None-Match: got %d, want 304", nm.status)
				}
			})
		}
	}
	if cached := e.thumbCache(); cached != 4*5 {
		t.Errorf("got %d cache entries under .miniaturas, want 20", cached)
	}
}

func TestThumbnailRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, url := e.upload(thumbstest.Encoded(t, "png", 100, 100))
	// Refused at upload now (TestUploadNeverThumbnailable): one put there
	// before.
	bomb := "/recursos/imagenes/productos/ab/bomba.png"
	e.kit.Put(t, bomb[1:], thumbstest.BombPNG(100_000, 100_000), 0)
	cases := []struct {
		name, path string
		want       int
		wantBody   string
	}{
		{"width not allowed", url + "?w=100", 400, "64, 128, 256, 512 or 1024"},
		{"width empty", url + "?w=", 400, "64, 128, 256, 512 or 1024"},
		{"width not a number", url + "?w=abc", 400, "64, 128, 256, 512 or 1024"},
		{"width too large", url + "?w=2048", 400, "64, 128, 256, 512 or 1024"},
		{"width negative", url + "?w=-64", 400, "64, 128, 256, 512 or 1024"},
		{"bomb header refused", bomb + "?w=64", 422, "over 200 MB decoded"},
		{"missing original", "/recursos/imagenes/productos/ab/nope.png?w=64", 404, "Not found"},
		{"traversal", "/recursos/imagenes/%2e%2e/%2e%2e/.papelera/x.png?w=64", 404, "Not found"},
		{"no w: the original", url, 200, ""},
		{"other query params ignored", url + "?v=3", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, req{method: "GET", path: tc.path})
			if r.status != tc.want || !strings.Contains(string(r.body), tc.wantBody) {
				t.Errorf("got %d %s, want %d containing %q", r.status, r.body, tc.want, tc.wantBody)
			}
		})
	}
	if entries := e.thumbCache(); entries != 0 {
		t.Errorf("refusals left %d cache entries, want 0", entries)
	}
}

// TestThumbnailOfDeletedImage: the delete makes the thumbnail a 404 at
// once, though its cache entry is still on disk (the janitor sweeps it);
// a restore brings it back. The trash preview is admin-only.
func TestThumbnailOfDeletedImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, url := e.upload(thumbstest.Encoded(t, "jpeg", 300, 200))
	if r := e.do(t, req{method: "GET", path: url + "?w=128"}); r.status != 200 {
		t.Fatalf("before the delete: got %d, want 200", r.status)
	}
	del := e.do(t, req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/imagenes/%d", id), token: e.admin})
	if del.status != 200 {
		t.Fatalf("delete: got %d %s", del.status, del.body)
	}
	pid := int64(del.json(t)["papelera_id"].(float64))
	if r := e.do(t, req{method: "GET", path: url + "?w=128"}); r.status != 404 {
		t.Errorf("after the delete: got %d, want 404", r.status)
	}
	cacheFile := ".miniaturas/128/" + strings.TrimPrefix(url, "/recursos/") + ".jpg"
	if !e.kit.Exists(t, cacheFile) {
		t.Errorf("cache entry %s gone before the janitor ran", cacheFile)
	}
	prev := fmt.Sprintf("/api/v1/admin/papelera/%d/miniatura", pid)
	cases := []struct {
		name, path, token string
		want              int
		wantCT            string
	}{
		{"admin sees the trashed image", prev + "?w=64", e.admin, 200, "image/jpeg"},
		{"no token", prev + "?w=64", "", 401, "application/json"},
		{"not admin", prev + "?w=64", e.alice, 403, "application/json"},
		{"bad width", prev + "?w=65", e.admin, 400, "application/json"},
		{"unknown entry", "/api/v1/admin/papelera/999999/miniatura?w=64", e.admin, 404, "application/json"},
		{"bad id", "/api/v1/admin/papelera/abc/miniatura?w=64", e.admin, 400, "application/json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, req{method: "GET", path: tc.path, token: tc.token})
			if r.status != tc.want || !strings.HasPrefix(r.header.Get("Content-Type"), tc.wantCT) {
				t.Errorf("got %d %s %s, want %d %s", r.status, r.header.Get("Content-Type"), r.body, tc.want, tc.wantCT)
			}
			if tc.want == 200 {
				if cfg, _ := decodeConfig(t, r.body); cfg.Width != 64 {
					t.Errorf("got width %d, want 64", cfg.Width)
				}
			}
		})
	}
	if r := e.do(t, req{method: "POST", path: fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", pid), token: e.admin}); r.status != 200 {
		t.Fatalf("restore: got %d %s", r.status, r.body)
	}
	if r := e.do(t, req{method: "GET", path: url + "?w=128"}); r.status != 200 {
		t.Errorf("after the restore: got %d, want 200", r.status)
	}
}

// TestThumbnailConcurrentFirstRequests: 20 clients asking at once over a
// real listener; the image is decoded once (the generation metric).
func TestThumbnailConcurrentFirstRequests(t *testing.T) {
	t.Parallel()
	// A minute per request, not the suite's 10 s: under -race beside the
	// rest of make test the one decode of 1000×800 outlasted 10 s once (all
	// 20 answered 503, nothing generated); this test is about one decode
	// for many callers, not about its time.
	e := newEnv(t, envOpts{requestTimeout: time.Minute})
	_, url := e.upload(thumbstest.Encoded(t, "png", 1000, 800))
	base := e.listen()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := http.Get(base + url + "?w=512")
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || len(b) == 0 {
				errs <- fmt.Errorf("got %d with %d bytes, want 200", res.StatusCode, len(b))
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	m := e.do(t, req{method: "GET", path: "/metrics"})
	if !strings.Contains(string(m.body), "imagenes_thumbnails_generated_total 1\n") {
		t.Errorf("want imagenes_thumbnails_generated_total 1 in /metrics, got:\n%s", grepLines(string(m.body), "thumbnails"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// thumbCache counts the thumbnail cache's entries, on either storage.
func (e *env) thumbCache() int {
	e.t.Helper()
	n := 0
	for _, k := range e.kit.Keys(e.t) {
		if strings.HasPrefix(k, ".miniaturas/") {
			n++
		}
	}
	return n
}
