package handlers_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storagetest"
	"github.com/imagenes/imagenes/internal/thumbs/thumbstest"
)

// metric reads one unlabelled counter from /metrics.
func (e *env) metric(name string) int {
	e.t.Helper()
	m := e.do(e.t, req{method: "GET", path: "/metrics"})
	for _, l := range strings.Split(string(m.body), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				e.t.Fatalf("%s: %v", l, err)
			}
			return n
		}
	}
	e.t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestUploadNeverThumbnailable: an image whose header declares more than a
// thumbnail may decode is refused at upload, on both routes, in the
// route's shape, before anything is published: a 16-bit 7000×7000 PNG is
// 49 megapixels but 392 MB decoded (8 bytes a pixel). One at the limit is
// stored.
func TestUploadNeverThumbnailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bomb := thumbstest.CutPNG16(7000, 7000, 0.9)
	cases := []struct {
		name, path, field, token string
		data                     []byte
		want                     int
		wantBody                 string
	}{
		{"balsamoa: 16-bit 7000×7000", "/api/v1/admin/imagenes/subir", "imagen", e.admin, bomb, 422, `{"mensaje":"La imagen es demasiado grande: decodificada ocuparía más de 200 MB`},
		{"cat: 16-bit 7000×7000", "/api/image", "file", e.alice, bomb, 422, `{"error":"Image too large: over 200 MB decoded`},
		{"cat: 8-bit 100000×100000 header", "/api/image", "file", e.alice, thumbstest.BombPNG(100_000, 100_000), 422, `{"error":"Image too large`},
		{"cat: 16-bit 5000×5000 (200 MB: the limit)", "/api/image", "file", e.alice, thumbstest.CutPNG16(5000, 5000, 0.9), 201, `{"filename"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.count(`SELECT count(*) FROM producto_imagenes`)
			body, ct := multipartBody(t, tc.field, "x.png", tc.data)
			r := e.do(t, req{method: "POST", path: tc.path, token: tc.token, body: body, contentType: ct})
			if r.status != tc.want || !strings.HasPrefix(string(r.body), tc.wantBody) {
				t.Errorf("got %d %s, want %d %s…", r.status, r.body, tc.want, tc.wantBody)
			}
			if staged := e.on(t).stagingFiles(); len(staged) != 0 {
				t.Errorf("staging holds %v, want nothing", staged)
			}
			want := before
			if tc.want == 201 {
				want++
			}
			if got := e.count(`SELECT count(*) FROM producto_imagenes`); got != want {
				t.Errorf("got %d rows, want %d", got, want)
			}
		})
	}
	var live int
	for _, k := range e.kit.Keys(t) {
		if strings.HasPrefix(k, "recursos/") {
			live++
		}
	}
	if live != 1 {
		t.Errorf("got %d live files, want 1 (the image at the limit)", live)
	}
}

// TestThumbnailFailureRemembered: a file that fails to decode (a PNG cut at
// 90 %, put there before uploads were checked, or uploaded because its
// decoded size is allowed) answers 422 on every request, but is decoded
// once: the failure is remembered by the file's identity
// (imagenes_thumbnail_decodes_total counts the decodes). The 16-bit
// 7000×7000 one is refused from its header and never decoded at all.
func TestThumbnailFailureRemembered(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		data        []byte
		upload      bool
		wantBody    string
		wantDecodes int
	}{
		{"16-bit 7000×7000 cut at 90 %, from before the upload check", thumbstest.CutPNG16(7000, 7000, 0.9), false, "too large to thumbnail", 0},
		{"16-bit 1500×1500 cut at 90 %, uploaded", thumbstest.CutPNG16(1500, 1500, 0.9), true, "not a decodable image", 1},
		{"16-bit 1500×1500 cut at 90 %, from before", thumbstest.CutPNG16(1500, 1500, 0.9), false, "not a decodable image", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			url := "/recursos/imagenes/productos/ab/cortada.png"
			if tc.upload {
				_, url = e.upload(tc.data)
			} else {
				e.kit.Put(t, url[1:], tc.data, 0)
			}
			for i := range 4 {
				for _, w := range []int{64, 256, 1024} {
					r := e.do(t, req{method: "GET", path: fmt.Sprintf("%s?w=%d", url, w)})
					if r.status != 422 || !strings.Contains(string(r.body), tc.wantBody) {
						t.Fatalf("request %d at w=%d: got %d %s, want 422 %q", i, w, r.status, r.body, tc.wantBody)
					}
				}
			}
			if got := e.metric("imagenes_thumbnail_decodes_total"); got != tc.wantDecodes {
				t.Errorf("12 requests decoded %d times, want %d", got, tc.wantDecodes)
			}
		})
	}
}

// TestThumbnailCacheUnwritable: when the thumbnail's cache entry cannot be
// written the thumbnail generated in memory is served (200, conditional
// requests included), each failed write is counted
// (imagenes_thumbnail_cache_write_errors_total) and logged at warn; never a
// 500 nor a 507. On the folder a file sits where the cache's folder
// (.miniaturas) must be, which stops root too; on the bucket the cache's
// PUTs go with a key MinIO refuses (a key that may read and not write, as
// far as the cache is concerned).
func TestThumbnailCacheUnwritable(t *testing.T) {
	t.Parallel()
	var e *env
	switch storagetest.KindFromEnv(t) {
	case storagetest.Disk:
		e = newEnv(t)
		e.kit.Put(t, ".miniaturas", []byte("not a folder"), 0)
	case storagetest.S3:
		o := s3test.Bucket(t)
		live, err := objstore.Open(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { live.Close() })
		o.SecretKey = "not-the-secret-key"
		refused, err := objstore.New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { refused.Close() })
		e = newEnv(t, envOpts{files: cacheRefused{live, refused}})
	}
	_, url := e.upload(thumbstest.Encoded(t, "jpeg", 300, 200))
	var etag string
	for i := range 3 {
		r := e.do(t, req{method: "GET", path: url + "?w=128"})
		if r.status != 200 {
			t.Fatalf("request %d: got %d %s, want 200", i, r.status, r.body)
		}
		if cfg, format := decodeConfig(t, r.body); cfg.Width != 128 || format != "jpeg" {
			t.Errorf("request %d: got %d wide %s, want 128 wide jpeg", i, cfg.Width, format)
		}
		if etag == "" {
			etag = r.header.Get("ETag")
		} else if got := r.header.Get("ETag"); got != etag {
			t.Errorf("request %d: ETag %s, want the first's %s", i, got, etag)
		}
	}
	if r := e.do(t, req{method: "GET", path: url + "?w=128", header: map[string]string{"If-None-Match": etag}}); r.status != 304 {
		t.Errorf("revalidation: got %d, want 304", r.status)
	}
	if got := e.metric("imagenes_thumbnail_cache_write_errors_total"); got != 4 {
		t.Errorf("counted %d cache write errors, want 4", got)
	}
	if n := e.logs.FilterMessage("thumbnail cache not written: served from memory").Len(); n != 4 {
		t.Errorf("logged %d warnings, want one per failed write (4)", n)
	}
	if e.logs.FilterMessage("request failed").Len() != 0 {
		t.Errorf("an error was logged as a failed request: %v", e.logs.FilterMessage("request failed").All())
	}
}

// cacheRefused is a bucket whose thumbnail cache writes go through another
// store (one MinIO refuses).
type cacheRefused struct {
	*objstore.Store
	cache *objstore.Store
}

func (c cacheRefused) WriteThumb(ctx context.Context, url string, w int, ext string, data []byte) error {
	return c.cache.WriteThumb(ctx, url, w, ext, data)
}
