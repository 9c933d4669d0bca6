package handlers_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagenes/imagenes/internal/storagetest"
)

func TestStatic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{storage: storagetest.Disk}) // symlinks: the folder's own attack
	_, url := e.upload(pngBytes)

	// A secret outside the storage root, and a symlink inside pointing at it.
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.png")
	if err := os.WriteFile(secret, []byte("TOP SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(e.root, "recursos", "imagenes", "productos", "link.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.root, "recursos", "imagenes", "fuera")); err != nil {
		t.Fatal(err)
	}

	first := e.do(t, req{method: "GET", path: url})
	etag := first.header.Get("ETag")
	tests := []struct {
		name       string
		path       string
		header     map[string]string
		wantStatus int
	}{
		{"live file", url, nil, 200},
		{"etag revalidation", url, map[string]string{"If-None-Match": etag}, 304},
		{"unknown file", "/recursos/imagenes/productos/ab/nope.png", nil, 404},
		{"folder listing", "/recursos/imagenes/productos/", nil, 404},
		{"dot dot", "/recursos/../../etc/passwd", nil, 404},
		{"encoded dot dot", "/recursos/%2e%2e/%2e%2e/etc/passwd", nil, 404},
		{"double encoded", "/recursos/%252e%252e/%252e%252e/etc/passwd", nil, 404},
		{"backslash", "/recursos/..%5c..%5cetc%5cpasswd", nil, 404},
		{"nul", "/recursos/imagenes/productos/x.png%00.txt", nil, 404},
		{"trash", "/recursos/../.papelera/x", nil, 404},
		{"symlink to file outside", "/recursos/imagenes/productos/link.png", nil, 404},
		{"symlink to folder outside", "/recursos/imagenes/fuera/secret.png", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.do(t, req{method: "GET", path: tt.path, header: tt.header})
			if got.status != tt.wantStatus {
				t.Fatalf("got %d %q, want %d", got.status, got.body, tt.wantStatus)
			}
			if strings.Contains(string(got.body), "TOP SECRET") || strings.Contains(string(got.body), "root:") {
				t.Fatalf("got a file from outside the storage root: %q", got.body)
			}
			if tt.wantStatus == 200 {
				if got.header.Get("ETag") == "" || got.header.Get("Last-Modified") == "" || !strings.Contains(got.header.Get("Cache-Control"), "max-age=31536000") {
					t.Errorf("got headers %v, want ETag, Last-Modified and a long Cache-Control", got.header)
				}
				if got.header.Get("Content-Type") != "image/png" {
					t.Errorf("got Content-Type %q, want image/png", got.header.Get("Content-Type"))
				}
			}
		})
	}
}

func TestOps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.upload(pngBytes)
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/healthz", 200, `"ok"`},
		{"/readyz", 200, `"ok"`},
		{"/metrics", 200, "imagenes_http_requests_total"},
		{"/nope", 404, `"error"`},
		{"/api/v1/nope", 404, `"mensaje"`},
		{"/api/nope", 404, `"error"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := e.do(t, req{method: "GET", path: tt.path})
			if got.status != tt.wantStatus || !strings.Contains(string(got.body), tt.wantBody) {
				t.Errorf("got %d %.200s, want %d containing %q", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// TestStaticRangesAndValidators: Range was ignored and If-None-Match lists
// and weak tags were not understood; /recursos/* now follows
// http.ServeContent's rules, HEAD included.
func TestStaticRangesAndValidators(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, url := e.upload(pngBytes)
	etag := e.do(t, req{method: "GET", path: url}).header.Get("ETag")
	n := len(pngBytes)
	tests := []struct {
		name, method string
		header       map[string]string
		wantStatus   int
		wantLen      int    // body length (-1: not checked)
		wantRange    string // Content-Range
	}{
		{"first four bytes", "GET", map[string]string{"Range": "bytes=0-3"}, 206, 4, "bytes 0-3/" + itoa(n)},
		{"suffix", "GET", map[string]string{"Range": "bytes=-2"}, 206, 2, "bytes " + itoa(n-2) + "-" + itoa(n-1) + "/" + itoa(n)},
		{"unsatisfiable", "GET", map[string]string{"Range": "bytes=999999-"}, 416, -1, "bytes */" + itoa(n)},
		{"head with range", "HEAD", map[string]string{"Range": "bytes=0-3"}, 206, 0, "bytes 0-3/" + itoa(n)},
		{"if-none-match list", "GET", map[string]string{"If-None-Match": `"other", ` + etag}, 304, 0, ""},
		{"if-none-match weak", "GET", map[string]string{"If-None-Match": "W/" + etag}, 304, 0, ""},
		{"if-none-match star", "GET", map[string]string{"If-None-Match": "*"}, 304, 0, ""},
		{"if-none-match other", "GET", map[string]string{"If-None-Match": `"other"`}, 200, n, ""},
		{"if-range stale ignores range", "GET", map[string]string{"Range": "bytes=0-3", "If-Range": `"stale"`}, 200, n, ""},
		{"if-match other", "GET", map[string]string{"If-Match": `"other"`}, 412, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.do(t, req{method: tt.method, path: url, header: tt.header})
			if got.status != tt.wantStatus {
				t.Fatalf("got %d, want %d", got.status, tt.wantStatus)
			}
			if tt.wantLen >= 0 && len(got.body) != tt.wantLen {
				t.Errorf("got %d body bytes, want %d", len(got.body), tt.wantLen)
			}
			if tt.wantRange != "" && got.header.Get("Content-Range") != tt.wantRange {
				t.Errorf("got Content-Range %q, want %q", got.header.Get("Content-Range"), tt.wantRange)
			}
			if tt.wantStatus == 206 && tt.method == "GET" && string(got.body) != string(pngBytes[rangeStart(tt.wantRange):][:len(got.body)]) {
				t.Errorf("got the wrong bytes")
			}
		})
	}
}

// rangeStart is the first byte of a Content-Range ("bytes 5-9/10" → 5).
func rangeStart(cr string) int {
	var from, to, size int
	if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &from, &to, &size); err != nil {
		return 0
	}
	return from
}
