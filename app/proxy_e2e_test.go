//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagenes/imagenes/internal/dbtest"
)

// TestBesideBalsamoa runs deploy/nginx/balsamoa.conf with the real nginx
// (`make e2e` installs it from Debian when missing) on loopback, in front of
// the real imagenes and a stand-in for Balsamoa's express server, and checks
// that every route reaches the service the README says it does.
func TestBesideBalsamoa(t *testing.T) {
	nginx := findNginx(t)

	// Balsamoa: says who it is on every answer.
	balsamoa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "balsamoa")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"balsamoa":%q}`, r.URL.Path)
	}))
	defer balsamoa.Close()

	// imagenes: the real service.
	const secret = "e2e-secret-0123456789abcdef"
	_, dbURL := dbtest.New(t)
	storage := t.TempDir()
	env := map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": storage, "JWT_SECRET": secret, "LOG_LEVEL": "warn"}
	stop, wait := serveInBackground(t, env)
	imagenesAddr := env["HTTP_ADDR"]
	defer func() {
		stop()
		if err := wait(); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	proxy := startNginx(t, nginx, imagenesAddr, strings.TrimPrefix(balsamoa.URL, "http://"))

	// Balsamoa's panel uploads a 4 MiB photo through the proxy (above
	// nginx's default body limit), with Balsamoa's session cookie.
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"id": 1, "rol": 1, "sesion_id": "x",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("imagen", "remera azul.png")
	fw.Write(append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 4<<20)...))
	mw.Close()
	up, _ := http.NewRequest("POST", proxy+"/api/v1/admin/imagenes/subir", &body)
	up.Header.Set("Content-Type", mw.FormDataContentType())
	up.AddCookie(&http.Cookie{Name: "token", Value: tok})
	res, err := http.DefaultClient.Do(up)
	if err != nil {
		t.Fatal(err)
	}
	var uploaded struct{ URL string }
	json.NewDecoder(res.Body).Decode(&uploaded)
	res.Body.Close()
	if res.StatusCode != 201 || uploaded.URL == "" {
		t.Fatalf("upload through the proxy: got %d, want 201 with a url", res.StatusCode)
	}

	tests := []struct {
		method, path string
		want         string // upstream: "imagenes" or "balsamoa"
		status       int    // 0: any
	}{
		{"GET", "/api/v1/tienda/productos", "imagenes", 200},
		{"GET", "/api/v1/tienda/productos?destacados=true", "imagenes", 200},
		{"GET", "/api/v1/tienda/productos/7", "imagenes", 404},
		{"GET", "/api/v1/admin/productos", "imagenes", 401},
		{"GET", "/api/v1/admin/productos/7", "imagenes", 401},
		{"DELETE", "/api/v1/admin/imagenes/7", "imagenes", 401},
		{"GET", "/api/v1/admin/imagenes", "imagenes", 401},
		{"GET", "/api/v1/admin/papelera", "imagenes", 401},
		{"GET", uploaded.URL, "imagenes", 200},
		{"GET", "/recursos/imagenes/productos/no-such.webp", "imagenes", 404},
		{"GET", "/api/v1/admin/categorias", "balsamoa", 200},
		{"GET", "/api/v1/admin/talles", "balsamoa", 200},
		{"GET", "/api/v1/admin/colores", "balsamoa", 200},
		{"POST", "/api/v1/autenticacion/login", "balsamoa", 200},
		{"POST", "/api/v1/autenticacion/logout", "balsamoa", 200},
		{"GET", "/recursos/css/global.css", "balsamoa", 200},
		{"GET", "/recursos/imagenes/logo%20balsamoa.webp", "balsamoa", 200},
		{"GET", "/admin/", "balsamoa", 200},
		{"GET", "/", "balsamoa", 200},
		{"GET", "/api/v1/admin/imagenesx", "balsamoa", 200},
		{"GET", "/api/v1/tienda/productosx", "balsamoa", 200},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r, _ := http.NewRequest(tt.method, proxy+tt.path, nil)
			r.Header.Set("X-Request-ID", "e2e-"+strings.ReplaceAll(tt.path, "/", "_"))
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			got := "imagenes"
			if res.Header.Get("X-Upstream") == "balsamoa" {
				got = "balsamoa"
			}
			if got != tt.want || (tt.status != 0 && res.StatusCode != tt.status) {
				t.Errorf("got %s %d, want %s %d", got, res.StatusCode, tt.want, tt.status)
			}
			if got == "imagenes" && res.Header.Get("X-Request-ID") == "" {
				t.Errorf("imagenes' answer lacks X-Request-ID")
			}
		})
	}
}

// startNginx runs the repository's config with the upstream addresses and
// a loopback port of this test, and returns its base URL. nginx is stopped
// when the test ends.
func startNginx(t *testing.T, nginx, imagenesAddr, balsamoaAddr string) string {
	t.Helper()
	conf, err := os.ReadFile("../deploy/nginx/balsamoa.conf")
	if err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	site := strings.NewReplacer("127.0.0.1:8080", imagenesAddr, "127.0.0.1:3000", balsamoaAddr,
		"listen 80;", "listen "+listen+";").Replace(string(conf))
	if !strings.Contains(site, imagenesAddr) || !strings.Contains(site, balsamoaAddr) || !strings.Contains(site, listen) {
		t.Fatal("deploy/nginx/balsamoa.conf no longer holds the addresses this test replaces")
	}
	dir := t.TempDir()
	// nginx's workers run as nobody under root: they must reach the temp
	// folders (t.TempDir and its parent are 0700).
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "balsamoa.conf"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/balsamoa.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait() //nolint:errcheck // killed on purpose
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx stderr:\n%s\nerror.log:\n%s", stderr.String(), log)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", listen, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "http://" + listen
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 10s: %s", listen, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
