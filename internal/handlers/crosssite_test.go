package handlers_test

import (
	"strings"
	"testing"
)

// TestCrossSiteCookieWrites: with the token cookie, a foreign page's
// text/plain POST created a product (201). Unsafe cookie requests from
// another site are now 403 in the family's shape; Bearer requests and
// same-origin or safe requests are unaffected.
func TestCrossSiteCookieWrites(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, method, path string
		cookie, bearer     bool
		header             map[string]string
		want403            bool
	}{
		{"cookie, foreign origin", "POST", "/api/v1/admin/productos", true, false, map[string]string{"Origin": "https://evil.example"}, true},
		{"cookie, null origin", "POST", "/api/v1/admin/productos", true, false, map[string]string{"Origin": "null"}, true},
		{"cookie, sec-fetch-site cross-site", "DELETE", "/api/v1/admin/productos/999", true, false, map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"cookie, foreign origin, put", "PUT", "/api/v1/admin/productos/999", true, false, map[string]string{"Origin": "http://evil.example"}, true},
		{"cookie, foreign origin, patch", "PATCH", "/api/v1/admin/productos/999/activar", true, false, map[string]string{"Origin": "http://evil.example"}, true},
		{"cookie, same origin", "POST", "/api/v1/admin/productos", true, false, map[string]string{"Origin": "http://example.test", "Sec-Fetch-Site": "same-origin"}, false},
		{"cookie, no origin (not a browser)", "POST", "/api/v1/admin/productos", true, false, nil, false},
		{"cookie, foreign origin, GET", "GET", "/api/v1/admin/productos", true, false, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
		{"bearer, foreign origin", "POST", "/api/v1/admin/productos", false, true, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
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
			r := req{method: tt.method, path: tt.path, header: h, contentType: "text/plain", body: strings.NewReader(`{"nombre":"x"}`)}
			if tt.bearer {
				r.token = e.admin
			}
			got := e.do(t, r)
			if (got.status == 403) != tt.want403 {
				t.Fatalf("got %d %s, want 403: %v", got.status, got.body, tt.want403)
			}
			if tt.want403 {
				if m := got.json(t); m["mensaje"] == nil {
					t.Errorf("got %s, want {\"mensaje\"}", got.body)
				}
			}
		})
	}
}
