package handlers_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/auth"
)

// TestAdminPage: the sign-in turns a pasted admin token into the HttpOnly,
// SameSite=Strict cookie and the page; anything else is the form again with
// a message; sign-out clears it; the cookie then works on the JSON API and
// the cross-site rule still holds for it.
func TestAdminPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	expired, err := auth.Mint(auth.Config{Secret: testSecret}, "admin-1", true, time.Hour, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	post := func(t *testing.T, path, body string, h map[string]string) resp {
		hh := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for k, v := range h {
			hh[k] = v
		}
		return e.do(t, req{method: "POST", path: path, body: strings.NewReader(body), header: hh})
	}
	cases := []struct {
		name, token  string
		wantLocation string
		wantCookie   bool
		wantMessage  string
	}{
		{"admin token", e.admin, "/admin", true, ""},
		{"admin token pasted with Bearer", "Bearer " + e.admin, "/admin", true, ""},
		{"empty", "", "/admin?error=vacio", false, "Pegue un token"},
		{"garbage", "not-a-token", "/admin?error=invalido", false, "Token inválido o vencido"},
		{"expired", expired, "/admin?error=invalido", false, "Token inválido o vencido"},
		{"not an admin", e.alice, "/admin?error=no-admin", false, "no es de un administrador"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, "/admin/sesion", "token="+url.QueryEscape(tc.token), nil)
			if r.status != 303 || r.header.Get("Location") != tc.wantLocation {
				t.Fatalf("got %d to %q, want 303 to %q", r.status, r.header.Get("Location"), tc.wantLocation)
			}
			sc := r.header.Get("Set-Cookie")
			if !tc.wantCookie {
				if sc != "" {
					t.Errorf("got Set-Cookie %q, want none", sc)
				}
				form := e.do(t, req{method: "GET", path: tc.wantLocation})
				if form.status != 200 || !strings.Contains(string(form.body), `action="/admin/sesion"`) || !strings.Contains(string(form.body), tc.wantMessage) {
					t.Errorf("the form again: got %d %s, want it saying %q", form.status, form.body, tc.wantMessage)
				}
				return
			}
			for _, want := range []string{"token=" + e.admin, "HttpOnly", "SameSite=Strict", "path=/"} {
				if !strings.Contains(sc, want) {
					t.Errorf("Set-Cookie %q lacks %q", sc, want)
				}
			}
			if strings.Contains(strings.ToLower(sc), "secure") {
				t.Errorf("Set-Cookie %q is Secure over plain http", sc)
			}
		})
	}

	cookie := map[string]string{"Cookie": "token=" + e.admin}
	pages := []struct {
		name, path string
		header     map[string]string
		want       int
		wantIn     string
	}{
		{"page with the cookie", "/admin", cookie, 200, `id="vista-imagenes"`},
		{"sign-in without it", "/admin", nil, 200, `action="/admin/sesion"`},
		{"an unknown error code says nothing", "/admin?error=%3Cscript%3E", nil, 200, `action="/admin/sesion"`},
		{"the bulk route and its limit: one request per that many selected", "/admin", cookie, 200, fmt.Sprintf(`data-bulk="%d"`, bulkLimit(e))},
		{"expired cookie", "/admin", map[string]string{"Cookie": "token=" + expired}, 200, "La sesión expiró"},
		{"non-admin cookie", "/admin", map[string]string{"Cookie": "token=" + e.alice}, 200, "no es de un administrador"},
		{"script", "/admin/app.js", nil, 200, "use strict"},
		{"style", "/admin/app.css", nil, 200, ".grilla"},
		{"API with the cookie", "/api/v1/admin/conserje", cookie, 200, `"papelera"`},
	}
	for _, tc := range pages {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, req{method: "GET", path: tc.path, header: tc.header})
			if r.status != tc.want || !strings.Contains(string(r.body), tc.wantIn) {
				t.Errorf("got %d %.300s, want %d containing %q", r.status, r.body, tc.want, tc.wantIn)
			}
			if strings.HasPrefix(tc.path, "/admin") && tc.path != "/admin" {
				return
			}
			if tc.path == "/admin" && !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("no CSP on the page: %v", r.header)
			}
		})
	}
	if r := e.do(t, req{method: "GET", path: "/admin", header: cookie}); strings.Contains(string(r.body), "<script>") {
		t.Error("the page has an inline script, which its CSP forbids")
	}

	// Writes with the cookie: same origin passes, another site is refused.
	same := map[string]string{"Cookie": "token=" + e.admin, "Origin": "http://example.test"}
	if r := e.do(t, req{method: "POST", path: "/api/v1/admin/conserje/simular", header: same}); r.status != 200 {
		t.Errorf("same-origin cookie write: got %d %s, want 200", r.status, r.body)
	}
	evil := map[string]string{"Cookie": "token=" + e.admin, "Origin": "https://evil.example"}
	if r := post(t, "/admin/salir", "", evil); r.status != 403 {
		t.Errorf("cross-site sign-out: got %d, want 403", r.status)
	}

	out := post(t, "/admin/salir", "", same)
	sc := out.header.Get("Set-Cookie")
	if out.status != 303 || out.header.Get("Location") != "/admin?error=salida" || !strings.Contains(sc, "token=;") || !(strings.Contains(sc, "max-age=0") || strings.Contains(sc, "expires=")) {
		t.Errorf("sign-out: got %d Set-Cookie %q, want 303 clearing token", out.status, sc)
	}
}

// TestSignInCSRF: a foreign page's form posted to /admin/sesion set the
// attacker's token as the victim's cookie (303 + Set-Cookie), and the token
// was read from the query string too. A sign-in from another site is now
// 403 by the cross-site rule (with or without a cookie), with no cookie
// set; the token is read from the form body only.
func TestSignInCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, path, body string
		header           map[string]string
		wantStatus       int
		wantLocation     string // of a 303
		wantCookie       bool
	}{
		{"cross-site form post", "/admin/sesion", "token=" + e.admin, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, "", false},
		{"same-site form post", "/admin/sesion", "token=" + e.admin, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://www.example.test"}, 403, "", false},
		{"old browser, foreign origin", "/admin/sesion", "token=" + e.admin, map[string]string{"Origin": "https://evil.example"}, 403, "", false},
		{"cross-site over the victim's own cookie", "/admin/sesion", "token=" + e.alice, map[string]string{"Sec-Fetch-Site": "cross-site", "Cookie": "token=" + e.admin}, 403, "", false},
		{"trailing slash, cross-site", "/admin/sesion/", "token=" + e.admin, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "", false},
		{"same-origin sign-in", "/admin/sesion", "token=" + e.admin, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.test"}, 303, "/admin", true},
		{"token in the query string only", "/admin/sesion?token=" + e.admin, "", map[string]string{"Sec-Fetch-Site": "same-origin"}, 303, "/admin?error=vacio", false},
		{"token in the query, garbage in the body", "/admin/sesion?token=" + e.admin, "token=garbage", map[string]string{"Sec-Fetch-Site": "same-origin"}, 303, "/admin?error=invalido", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.on(t).do(t, req{method: "POST", path: tt.path, contentType: form, body: strings.NewReader(tt.body), header: tt.header})
			if r.status != tt.wantStatus || r.header.Get("Location") != tt.wantLocation {
				t.Fatalf("got %d to %q %s, want %d to %q", r.status, r.header.Get("Location"), r.body, tt.wantStatus, tt.wantLocation)
			}
			if got := strings.Contains(r.header.Get("Set-Cookie"), "token="); got != tt.wantCookie {
				t.Errorf("Set-Cookie %q, want a token cookie: %v", r.header.Get("Set-Cookie"), tt.wantCookie)
			}
		})
	}
}
