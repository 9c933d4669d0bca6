package handlers_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"
)

// FuzzProductoBody: any body sent to POST /api/v1/admin/productos is either
// a 201 with a product that reads back the same, or a 4xx {"mensaje"} —
// never a 5xx, never a panic, never a half-made product.
func FuzzProductoBody(f *testing.F) {
	e := newEnv(f)
	_, local := e.upload(pngBytes)
	for _, s := range []string{
		`{"nombre":"Bálsamo","precio":"12.50"}`,
		`{"nombre":"x","precio":3.5,"imagenes":[{"url":"https://cdn.example/a.png","orden":2}]}`,
		`{"nombre":"x","precio":1,"imagenes":[{"url":"` + local + `"}]}`,
		`{"nombre":"x","precio":1,"imagenes":[{"url":"/recursos/../../etc/passwd"}]}`,
		`{"nombre":"x","precio":1,"imagenes":[{"url":"/recursos/imagenes/productos/%2e%2e/x.png"}]}`,
		`{"nombre":"x","precio":1e400}`,
		`{"nombre":"x","precio":"99999999.99","categoria_id":2147483647}`,
		`{"nombre":null,"precio":-0}`,
		`{"nombre":"\u0000","precio":1}`,
		`{"nombre":"x","precio":1,"imagenes":null,"descripcion":null,"activo":false}`,
		`[]`, `null`, `"x"`, `{`, ``, `{"imagenes":[{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		hr := httptest.NewRequest("POST", "/api/v1/admin/productos", bytes.NewReader(body))
		hr.Header.Set("Authorization", "Bearer "+e.admin)
		hr.Header.Set("Content-Type", "application/json")
		res, err := e.app.Test(hr, -1)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Fatalf("got %d with a body that is not JSON: %v", res.StatusCode, err)
		}
		res.Body.Close()
		switch {
		case res.StatusCode == 201:
			p, _ := m["producto"].(map[string]any)
			id, _ := p["id"].(float64)
			got := e.do(t, req{method: "GET", path: "/api/v1/admin/productos/" + strconv.Itoa(int(id)), token: e.admin})
			if got.status != 200 {
				t.Fatalf("created product %v reads back %d %s", id, got.status, got.body)
			}
		case res.StatusCode >= 400 && res.StatusCode < 500:
			if _, ok := m["mensaje"].(string); !ok {
				t.Fatalf("got %d %v, want a {\"mensaje\"} body", res.StatusCode, m)
			}
		default:
			t.Fatalf("got %d %v for %q, want 201 or 4xx", res.StatusCode, m, body)
		}
	})
}
