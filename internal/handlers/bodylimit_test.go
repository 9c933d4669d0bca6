package handlers_test

import (
	"strings"
	"testing"
)

// TestOversizedJSONIs413: an 11 MB JSON body to POST /productos answered
// 400 "El archivo supera el límite de 5 MB" (the upload's words); it is a
// 413 in {"mensaje"} with its own words. The upload keeps Balsamoa's 400.
func TestOversizedJSONIs413(t *testing.T) {
	e := newEnv(t)
	base := e.listen()
	tests := []struct {
		name, path, ct string
		want           int
		wantWords      string
	}{
		{"json to productos", "/api/v1/admin/productos", "application/json", 413, "cuerpo de la solicitud supera"},
		{"upload keeps Balsamoa's 400", "/api/v1/admin/imagenes/subir", "multipart/form-data; boundary=x", 400, "archivo supera"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := postOversized(t, base, tt.path, e.admin, tt.ct, 11<<20, strings.NewReader(`{"nombre":"`+strings.Repeat("a", 32<<10)))
			m := got.json(t)
			msg, _ := m["mensaje"].(string)
			if got.status != tt.want || !strings.Contains(msg, tt.wantWords) || m["error"] != nil {
				t.Fatalf("got %d %s, want %d {\"mensaje\"} with %q", got.status, got.body, tt.want, tt.wantWords)
			}
		})
	}
}

// TestAuthBeforeBody: fasthttp parsed multipart bodies before routing, so a
// broken form without a token was a 400 with Go's parser text (in {"error"}
// on Balsamoa routes); auth comes first, and a broken form with a token is
// the family's own 400.
func TestAuthBeforeBody(t *testing.T) {
	e := newEnv(t)
	broken := "--x\r\nContent-Disposition: form-data; name=\"imagen\"; filename=\"a.png\"\r\n\r\nabc" // no closing boundary
	tests := []struct {
		name, path, token, key string
		want                   int
	}{
		{"balsamoa, no token", "/api/v1/admin/imagenes/subir", "", "mensaje", 401},
		{"cat, no token", "/api/image", "", "error", 401},
		{"balsamoa, broken form", "/api/v1/admin/imagenes/subir", e.admin, "mensaje", 400},
		{"cat, broken form", "/api/image", e.alice, "error", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.do(t, req{method: "POST", path: tt.path, token: tt.token, contentType: "multipart/form-data; boundary=x", body: strings.NewReader(broken)})
			m := got.json(t)
			msg, _ := m[tt.key].(string)
			if got.status != tt.want || msg == "" || strings.Contains(msg, "multipart") || strings.Contains(msg, "EOF") {
				t.Fatalf("got %d %s, want %d {%q} in our words", got.status, got.body, tt.want, tt.key)
			}
		})
	}
}
