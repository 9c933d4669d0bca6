//go:build e2e

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/imagenes/imagenes/internal/dbtest"
)

// panelPage stands in for Balsamoa's admin panel: its page, served by
// Balsamoa behind the proxy, uploads the chosen image to imagenes with the
// cookie (fetch, same origin, no Authorization header) and then deletes it,
// writing each answer's status and mensaje into the page.
const panelPage = `<!doctype html>
<meta charset="utf-8"><title>Panel</title>
<input type="file" id="archivo">
<p id="subida"></p><p id="borrado"></p>
<script>
document.getElementById("archivo").addEventListener("change", async (ev) => {
  const fd = new FormData();
  fd.append("imagen", ev.target.files[0]);
  const up = await fetch("/api/v1/admin/imagenes/subir", {method: "POST", body: fd});
  const u = await up.json();
  document.getElementById("subida").textContent = up.status + " " + u.mensaje;
  if (up.status !== 201) return;
  const del = await fetch("/api/v1/admin/imagenes/" + u.id, {method: "DELETE"});
  const d = await del.json();
  document.getElementById("borrado").textContent = del.status + " " + d.mensaje;
});
</script>`

// TestPanelBehindNginxOnAPort: Balsamoa's panel behind nginx running
// deploy/nginx/balsamoa.conf unchanged but for its port (a loopback port,
// not 80), in a real headless Chromium, signed in with Balsamoa's cookie,
// uploads an image and deletes it. nginx's `Host $host` drops the port, so
// the browser's Origin (http://127.0.0.1:PORT) never equals the Host
// imagenes sees (127.0.0.1): comparing them refused both with 403
// "Solicitud de otro sitio rechazada" although Chromium sent
// `Sec-Fetch-Site: same-origin`. Now Sec-Fetch-Site decides (Go's
// net/http.CrossOriginProtection): 201, then 200 with the image in the trash.
func TestPanelBehindNginxOnAPort(t *testing.T) {
	nginx := findNginx(t)
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run `make e2e`, which installs it (apt-get install chromium)")
	}

	const secret = "e2e-secret-0123456789abcdef"
	pool, dbURL := dbtest.New(t)
	root := t.TempDir()
	env := map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": root, "JWT_SECRET": secret, "LOG_LEVEL": "info"}
	serverLog := &lockedBuffer{}
	stop, wait := serveLogging(t, env, serverLog)
	defer func() {
		stop()
		if err := wait(); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	// Balsamoa's session token, as its login signs it, set as its login
	// sets it: the cookie `token`, HttpOnly.
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"id": 1, "rol": 1, "sesion_id": "x",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	balsamoa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/admin/" {
			http.NotFound(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "token", Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, panelPage)
	}))
	defer balsamoa.Close()
	proxy := startNginx(t, nginx, env["HTTP_ADDR"], strings.TrimPrefix(balsamoa.URL, "http://"))
	if strings.HasSuffix(proxy, ":80") {
		t.Fatalf("nginx listens on %s: the test needs a port other than 80", proxy)
	}

	img := writeImage(t, t.TempDir(), "remera.png", 320, 240, true) // above 64 KiB

	ctx := newBrowser(t, browser, 4*time.Minute)
	var mu sync.Mutex
	var console []string
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\n%s", step, err, pageState(ctx, &mu, &console, serverLog))
		}
	}
	waitJS := func(cond string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(90*time.Second))(ctx, tg)
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", cond, err)
			}
			return nil
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	do("open Balsamoa's panel through nginx",
		chromedp.Navigate(proxy+"/admin/"),
		chromedp.WaitReady(chromedp.CSS("#archivo")),
	)
	do("upload, then delete, with the cookie",
		chromedp.SetUploadFiles(chromedp.CSS("#archivo"), []string{img}),
		waitJS(`document.getElementById("subida").textContent !== "" && (document.getElementById("borrado").textContent !== "" || !document.getElementById("subida").textContent.startsWith("201"))`),
	)
	if up := text("#subida"); !strings.HasPrefix(up, "201 ") {
		t.Fatalf("upload through nginx on %s: got %q, want 201\n%s", proxy, up, pageState(ctx, &mu, &console, serverLog))
	}
	if del := text("#borrado"); !strings.HasPrefix(del, "200 ") {
		t.Fatalf("delete through nginx on %s: got %q, want 200\n%s", proxy, del, pageState(ctx, &mu, &console, serverLog))
	}
	db := dbCheck{t: t, pool: pool, root: root}
	if n := db.count(`SELECT count(*) FROM producto_imagenes`); n != 0 {
		t.Errorf("after the delete: %d image rows, want 0", n)
	}
	if n := db.count(`SELECT count(*) FROM imagenes_papelera`); n != 1 {
		t.Errorf("after the delete: %d trash entries, want 1", n)
	}
	if n := db.trashFiles(); n != 1 {
		t.Errorf("after the delete: %d files in the trash, want 1", n)
	}
}
