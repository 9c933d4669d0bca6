package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// localpg runs scripts/localpg.sh.
func localpg(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("../scripts/localpg.sh", args...).Output()
	if err != nil {
		t.Fatalf("localpg.sh %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// PostgreSQL restarted under the service: while it is down every route
// answers 503 in its own body shape (never 500, never a hang), /readyz says
// so, and once it is back the service recovers by itself — no restart of
// ours. Its own cluster, since it is stopped halfway.
func TestDatabaseRestart(t *testing.T) {
	base := localpg(t, "start", "dbrestart", "--fast")
	t.Cleanup(func() { exec.Command("../scripts/localpg.sh", "destroy", "dbrestart").Run() }) //nolint:errcheck // best effort
	dbURL := strings.Replace(base, "/postgres?", "/imagenes?", 1)
	if out, err := exec.Command("psql", "-q", base, "-c", "DROP DATABASE IF EXISTS imagenes", "-c", "CREATE DATABASE imagenes").CombinedOutput(); err != nil {
		t.Fatalf("create database: %v %s", err, out)
	}
	env := map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": t.TempDir(),
		"JWT_SECRET": "restart-secret-0123456789", "LOG_LEVEL": "error", "REQUEST_TIMEOUT": "2s"}
	if err := run(context.Background(), []string{"migrate", "up"}, envOf(env), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var tok bytes.Buffer
	if err := run(context.Background(), []string{"token", "--sub", "admin", "--role", "admin"}, envOf(env), &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(tok.String())
	sigterm, wait := serveInBackground(t, env)
	addr := env["HTTP_ADDR"]
	defer func() { sigterm(); wait() }() //nolint:errcheck // the test is about what came before

	c := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path string, body io.Reader, ct string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, body)
		req.Header.Set("Authorization", "Bearer "+token)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(res.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s %s: %d with a non-JSON body %q", method, path, res.StatusCode, b)
			}
		}
		return res.StatusCode, m
	}
	upload := func() (int, map[string]any) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		fw, _ := w.CreateFormFile("imagen", "x.png")
		fw.Write(append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 100)...))
		w.Close()
		return do("POST", "/api/v1/admin/imagenes/subir", &buf, w.FormDataContentType())
	}
	if st, m := upload(); st != 201 {
		t.Fatalf("upload before the restart: %d %v", st, m)
	}

	localpg(t, "stop", "dbrestart")
	tests := []struct {
		name, method, path, key string
	}{
		{"balsamoa list", "GET", "/api/v1/admin/imagenes", "mensaje"},
		{"balsamoa delete", "DELETE", "/api/v1/admin/imagenes/1", "mensaje"},
		{"balsamoa products", "GET", "/api/v1/admin/productos", "mensaje"},
		{"shop", "GET", "/api/v1/tienda/productos", "mensaje"},
		{"cat list", "GET", "/api/images", "error"},
		{"cat delete", "DELETE", "/api/image/1", "error"},
		{"readyz", "GET", "/readyz", "error"},
	}
	for _, tt := range tests {
		t.Run("down/"+tt.name, func(t *testing.T) {
			st, m := do(tt.method, tt.path, nil, "")
			if st != http.StatusServiceUnavailable {
				t.Errorf("got %d %v, want 503", st, m)
			}
			if _, ok := m[tt.key].(string); !ok {
				t.Errorf("got %v, want a {%q} body", m, tt.key)
			}
		})
	}
	if st, m := upload(); st != http.StatusServiceUnavailable {
		t.Errorf("upload while down: got %d %v, want 503", st, m)
	}

	localpg(t, "start", "dbrestart", "--fast")
	waitReady(t, addr, 200)
	st, m := upload()
	if st != 201 {
		t.Fatalf("upload after the restart: %d %v", st, m)
	}
	id := int(m["id"].(float64))
	if st, m := do("DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", id), nil, ""); st != 200 {
		t.Errorf("delete after the restart: %d %v", st, m)
	}
}
