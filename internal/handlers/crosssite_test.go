package handlers_test

import (
	"context"
	"strings"
	"testing"
)

// TestCrossSiteCookieWrites: which unsafe requests authenticated by the
// cookie are refused as cross-site, by net/http.CrossOriginProtection's
// rules: Sec-Fetch-Site first (same-origin and none pass; same-site and
// cross-site are 403 unless their Origin is trusted), Origin against Host
// only when the browser sent no Sec-Fetch-Site, safe methods always pass,
// and a Bearer request is not a cookie request. Regressions: a foreign
// page's text/plain POST with the cookie created a product (201); a proxy
// rewriting Host (deploy/nginx/balsamoa.conf on a port other than 80) made
// every same-origin upload of Balsamoa's panel a 403; a cookie request
// with `Authorization: Basic …` (added by the browser for a site behind
// HTTP Basic auth) skipped the rule and created a product.
func TestCrossSiteCookieWrites(t *testing.T) {
	const trusted = "https://panel.example"
	e := newEnv(t, envOpts{trustedOrigins: []string{trusted}})
	const product = `{"nombre":"Bálsamo cruzado","precio":"12.50"}`
	tests := []struct {
		name, method, path string
		host               string // "" is example.test, the request's own
		cookie             bool
		authorization      string // "bearer": the admin's Bearer token
		header             map[string]string
		want403            bool
	}{
		// Sec-Fetch-Site decides when present.
		{"sec-fetch-site cross-site", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"sec-fetch-site cross-site, delete", "DELETE", "/api/v1/admin/productos/999", "", true, "", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, true},
		{"sec-fetch-site same-site", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://otra.example.test"}, true},
		{"sec-fetch-site same-origin, origin and host agree", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.test"}, false},
		{"proxy rewrote host: same-origin wins over origin vs host", "POST", "/api/v1/admin/productos", "localhost", true, "", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost:18250"}, false},
		{"proxy rewrote host: upload", "POST", "/api/v1/admin/imagenes/subir", "localhost", true, "", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost:18250"}, false},
		{"proxy rewrote host: delete", "DELETE", "/api/v1/admin/imagenes/999", "localhost", true, "", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost:18250"}, false},
		{"sec-fetch-site none (typed by the user)", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Sec-Fetch-Site": "none"}, false},
		{"cross-site from a trusted origin", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": trusted}, false},
		{"same-site from a trusted origin", "PUT", "/api/v1/admin/productos/999", "", true, "", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": trusted}, false},
		{"cross-site from an origin like a trusted one", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": trusted + ":8443"}, true},
		// No Sec-Fetch-Site (an old browser): Origin against Host.
		{"no sec-fetch-site, foreign origin", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Origin": "https://evil.example"}, true},
		{"no sec-fetch-site, foreign origin, put", "PUT", "/api/v1/admin/productos/999", "", true, "", map[string]string{"Origin": "http://evil.example"}, true},
		{"no sec-fetch-site, foreign origin, patch", "PATCH", "/api/v1/admin/productos/999/activar", "", true, "", map[string]string{"Origin": "http://evil.example"}, true},
		{"no sec-fetch-site, null origin", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Origin": "null"}, true},
		{"no sec-fetch-site, origin is the host", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Origin": "http://example.test"}, false},
		{"no sec-fetch-site, trusted origin", "POST", "/api/v1/admin/productos", "", true, "", map[string]string{"Origin": trusted}, false},
		{"no sec-fetch-site, no origin (not a browser)", "POST", "/api/v1/admin/productos", "", true, "", nil, false},
		// Safe methods, and what authenticates the request.
		{"cross-site GET", "GET", "/api/v1/admin/productos", "", true, "", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
		{"cross-site OPTIONS", "OPTIONS", "/api/v1/admin/productos", "", true, "", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
		{"bearer, cross-site", "POST", "/api/v1/admin/productos", "", false, "bearer", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
		{"bearer and cookie, cross-site: the bearer authenticates", "POST", "/api/v1/admin/productos", "", true, "bearer", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
		{"cookie and Basic, cross-site: the cookie authenticates", "POST", "/api/v1/admin/productos", "", true, "Basic dXNlcjpwYXNz", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, true},
		{"cookie and Basic, no sec-fetch-site, foreign origin", "POST", "/api/v1/admin/productos", "", true, "Basic dXNlcjpwYXNz", map[string]string{"Origin": "https://evil.example"}, true},
		{"cookie and a blank bearer, cross-site", "POST", "/api/v1/admin/productos", "", true, "Bearer   ", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"cookie and Basic, same-origin", "POST", "/api/v1/admin/productos", "", true, "Basic dXNlcjpwYXNz", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.test"}, false},
	}
	products := func() int {
		var n int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM productos`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			for k, v := range tt.header {
				h[k] = v
			}
			if tt.cookie {
				h["Cookie"] = "token=" + e.admin
			}
			switch tt.authorization {
			case "":
			case "bearer":
				h["Authorization"] = "Bearer " + e.admin
			default:
				h["Authorization"] = tt.authorization
			}
			if tt.host != "" {
				h["Host"] = tt.host
			}
			before := products()
			r := req{method: tt.method, path: tt.path, header: h, contentType: "text/plain", body: strings.NewReader(product)}
			got := e.on(t).do(t, r)
			if (got.status == 403) != tt.want403 {
				t.Fatalf("got %d %s, want 403: %v", got.status, got.body, tt.want403)
			}
			if !tt.want403 {
				return
			}
			if m := got.json(t); m["mensaje"] == nil {
				t.Errorf("got %s, want {\"mensaje\"}", got.body)
			}
			if n := products(); n != before {
				t.Errorf("a refused request changed the products: %d → %d", before, n)
			}
		})
	}
}
