package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storagetest"
)

// An object store that cannot be reached answers 503 in each family's
// shape — never a hang, never a 500 — and changes nothing; /readyz says so.
func TestStorageOutage(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	down, err := objstore.New(objstore.Options{Bucket: "imagenes", Endpoint: "http://" + closed, PathStyle: true,
		AccessKey: "k", SecretKey: "secretsecret", Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { down.Close() })
	e := newEnv(t, envOpts{files: down})
	url := "/recursos/imagenes/productos/ab/abc.png"
	var id int
	if err := e.pool.QueryRow(t.Context(), `INSERT INTO producto_imagenes (url, orden, owner_sub) VALUES ($1, 1, 'admin-1') RETURNING id`, url).Scan(&id); err != nil {
		t.Fatal(err)
	}
	pngForm := func(field string) (io.Reader, string) { return multipartBody(t, field, "x.png", pngBytes) }
	cases := []struct {
		name   string
		r      func() req
		family string // "mensaje" or "error"
	}{
		{"balsamoa delete", func() req {
			return req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/imagenes/%d", id), token: e.admin}
		}, "mensaje"},
		{"cat delete", func() req { return req{method: "DELETE", path: fmt.Sprintf("/api/image/%d", id), token: e.admin} }, "error"},
		{"balsamoa upload", func() req {
			b, ct := pngForm("imagen")
			return req{method: "POST", path: "/api/v1/admin/imagenes/subir", token: e.admin, body: b, contentType: ct}
		}, "mensaje"},
		{"cat upload", func() req {
			b, ct := pngForm("file")
			return req{method: "POST", path: "/api/image", token: e.admin, body: b, contentType: ct}
		}, "error"},
		{"cat get", func() req { return req{method: "GET", path: fmt.Sprintf("/api/image/%d", id), token: e.admin} }, "error"},
		{"static", func() req { return req{method: "GET", path: url} }, "error"},
	}
	for _, tc := range cases {
		got := e.do(t, tc.r())
		if got.status != 503 {
			t.Errorf("%s: got %d %s, want 503", tc.name, got.status, got.body)
			continue
		}
		if m := got.json(t); m[tc.family] == nil || len(m) != 1 {
			t.Errorf("%s: got %s, want {%q}", tc.name, got.body, tc.family)
		}
	}
	if n := e.count(`SELECT count(*) FROM producto_imagenes`); n != 1 || !e.rowExists(id) {
		t.Errorf("%d rows (image %d kept %v), want only the one row, untouched", n, id, e.rowExists(id))
	}
	if n := e.count(`SELECT count(*) FROM imagenes_papelera`); n != 0 {
		t.Errorf("%d trash entries, want none", n)
	}
	if r := e.do(t, req{method: "GET", path: "/readyz"}); r.status != 503 {
		t.Errorf("readyz: got %d %s, want 503", r.status, r.body)
	}
}

// STORAGE_REDIRECT=true: image reads answer 302 to a presigned url that
// serves the object itself; a missing image is still the route's 404.
func TestStorageRedirect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{storage: storagetest.S3, redirect: true})
	id, url := e.upload(pngBytes)
	catID := e.uploadCat(e.alice, jpegBytes)
	cases := []struct {
		name string
		r    req
		want []byte
	}{
		{"static", req{method: "GET", path: url}, pngBytes},
		{"cat", req{method: "GET", path: fmt.Sprintf("/api/image/%d", catID), token: e.alice}, jpegBytes},
		{"cat admin", req{method: "GET", path: fmt.Sprintf("/api/image/%d", id), token: e.admin}, pngBytes},
	}
	for _, tc := range cases {
		got := e.do(t, tc.r)
		loc := got.header.Get("Location")
		if got.status != 302 || !strings.Contains(loc, "X-Amz-Signature=") || got.header.Get("Cache-Control") == "" {
			t.Errorf("%s: got %d Location %q Cache-Control %q, want 302 to a presigned url, not cached", tc.name, got.status, loc, got.header.Get("Cache-Control"))
			continue
		}
		res, err := http.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(body, tc.want) {
			t.Errorf("%s: the presigned url answered %d with %d bytes, want 200 with the image", tc.name, res.StatusCode, len(body))
		}
	}
	e.kit.Remove(t, url[1:])
	if got := e.do(t, req{method: "GET", path: url}); got.status != 404 {
		t.Errorf("missing object: got %d, want 404", got.status)
	}
	if got := e.do(t, req{method: "GET", path: fmt.Sprintf("/api/image/%d", id), token: e.admin}); got.status != 404 {
		t.Errorf("missing object (cat): got %d %s, want 404", got.status, got.body)
	}
	if got := e.do(t, req{method: "GET", path: "/recursos/imagenes/../../etc/passwd"}); got.status != 404 {
		t.Errorf("traversal: got %d, want 404", got.status)
	}
}

// An object whose body stops arriving mid-stream never holds a response
// forever: each read of the object waits at most the store's time limit
// (REQUEST_TIMEOUT/2 in serve), then the response ends — a streamed 200 is
// cut short (its Content-Length is not met, so no client takes it for the
// image), and an answer built before sending (a Range, a thumbnail) is a
// 503 in the family's shape, never a short 206 that claims to be whole.
func TestStalledObjectBody(t *testing.T) {
	t.Parallel()
	// 1 s, not less: with 200 ms the GET that opens the object missed the
	// limit under make test's load on 2 cores (a 503 where the case wants
	// the streamed 200 that the stall then cuts).
	const timeout = time.Second
	const bound = 30 * timeout
	addr, _, stop := s3test.Stalled(t, s3test.MidBody)
	stalled, err := objstore.New(objstore.Options{Bucket: "imagenes", Endpoint: "http://" + addr, PathStyle: true,
		AccessKey: "k", SecretKey: "secretsecret", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalled.Close() })
	e := newEnv(t, envOpts{files: stalled})
	url := "/recursos/imagenes/productos/ab/abc.png"
	var id int
	if err := e.pool.QueryRow(t.Context(), `INSERT INTO producto_imagenes (url, orden, owner_sub) VALUES ($1, 1, 'admin-1') RETURNING id`, url).Scan(&id); err != nil {
		t.Fatal(err)
	}
	base := e.listen()
	t.Cleanup(stop) // before the app's Shutdown, which waits for a handler still streaming
	cases := []struct {
		name   string
		path   string
		header map[string]string
		// cut: a 200 whose body was streamed as it came, then cut short;
		// else the 503 of family (the answer was built before sending).
		cut    bool
		family string
	}{
		{"static", url, nil, true, ""},
		{"cat", fmt.Sprintf("/api/image/%d", id), map[string]string{"Authorization": "Bearer " + e.admin}, true, ""},
		{"static range", url, map[string]string{"Range": "bytes=1000-1099"}, false, "error"},
		{"thumbnail", url + "?w=64", nil, true, ""},
		{"static conditional", url, map[string]string{"If-None-Match": `"otra"`}, false, "error"},
	}
	type result struct {
		status int
		header http.Header
		body   []byte
		err    error // reading the body
	}
	done := make([]chan result, len(cases))
	for i, tc := range cases {
		done[i] = make(chan result, 1)
		go func() {
			r, err := http.NewRequest("GET", base+tc.path, nil)
			if err != nil {
				done[i] <- result{err: err}
				return
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				done[i] <- result{err: err}
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			done[i] <- result{res.StatusCode, res.Header, b, err}
		}()
	}
	until := time.After(bound)
	for i, tc := range cases {
		var got result
		select {
		case got = <-done[i]:
		case <-until:
			t.Fatalf("%s: no answer within %s (the store's time limit is %s)", tc.name, bound, timeout)
		}
		switch {
		case tc.cut:
			if got.status != 200 || got.err == nil || len(got.body) >= s3test.StalledSize {
				t.Errorf("%s: got %d with %d bytes %q %v (%v), want a 200 cut short with an error", tc.name, got.status, len(got.body), got.body, got.header, got.err)
			}
		case got.status != 503 || got.err != nil:
			t.Errorf("%s: got %d %q (%v), want 503", tc.name, got.status, got.body, got.err)
		default:
			var m map[string]any
			if json.Unmarshal(got.body, &m) != nil || m[tc.family] == nil || len(m) != 1 {
				t.Errorf("%s: got %s, want {%q}", tc.name, got.body, tc.family)
			}
			for _, h := range []string{"ETag", "Content-Range", "Last-Modified"} {
				if v := got.header.Get(h); v != "" {
					t.Errorf("%s: the 503 keeps the image's %s %q", tc.name, h, v)
				}
			}
			if cc := got.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: the 503's Cache-Control is %q, want no-store", tc.name, cc)
			}
		}
	}
}
