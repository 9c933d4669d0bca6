package handlers_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/objstore"
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
	down, err := objstore.New(objstore.Options{Bucket: "b", Endpoint: "http://" + closed, PathStyle: true,
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
