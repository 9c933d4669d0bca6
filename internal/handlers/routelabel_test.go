package handlers_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestRouteLabel: every request is counted under the route it was sent to,
// also when a middleware refused it before routing reached the endpoint.
// Before, a 401 of the admin group's token check was counted under
// route="/api/v1/admin" and a 413 of the body gate under route="/" (the
// middlewares' prefixes); an unknown path is "unmatched", never its raw
// path.
func TestRouteLabel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	base := e.listen()
	client := &http.Client{Timeout: 30 * time.Second}
	send := func(t *testing.T, method, path, token string, body []byte) int {
		r, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	oversized := func(t *testing.T, path, token string) int {
		body, ct := multipartBody(t, "imagen", "foto.png", make([]byte, 12<<20))
		return postOversized(t, base, path, token, ct, 1<<30, body).status
	}
	tests := []struct {
		name   string
		method string
		send   func(t *testing.T) int
		status int
		route  string
	}{
		{"401 on an admin route, no token", "DELETE", func(t *testing.T) int { return send(t, "DELETE", "/api/v1/admin/imagenes/5", "", nil) }, 401, "/api/v1/admin/imagenes/:id"},
		{"401 on an admin route, in capitals with a trailing slash", "GET", func(t *testing.T) int { return send(t, "GET", "/API/v1/Admin/papelera/", "", nil) }, 401, "/api/v1/admin/papelera"},
		{"401 of a made-up token before the body is read", "POST", func(t *testing.T) int {
			return send(t, "POST", "/api/v1/admin/imagenes/eliminar", "x", []byte(`{"ids":[1]}`))
		}, 401, "/api/v1/admin/imagenes/eliminar"},
		{"403 of a user's token on an admin route", "GET", func(t *testing.T) int { return send(t, "GET", "/api/v1/admin/conserje", e.alice, nil) }, 403, "/api/v1/admin/conserje"},
		// Balsamoa answers an oversized upload 400 "El archivo supera el límite de 5 MB".
		{"oversized admin upload", "POST", func(t *testing.T) int { return oversized(t, "/api/v1/admin/imagenes/subir", e.admin) }, 400, "/api/v1/admin/imagenes/subir"},
		{"413 Cat upload", "POST", func(t *testing.T) int { return oversized(t, "/api/image", e.alice) }, 413, "/api/image"},
		{"413 JSON body on a route with no upload", "POST", func(t *testing.T) int {
			// Only the head of the body: the server answers by its
			// Content-Length and closes, and a client still writing the rest
			// would see a reset instead of the answer.
			return postOversized(t, base, "/api/v1/admin/productos", e.admin, "application/json", 11<<20, strings.NewReader(`{"nombre":"`+strings.Repeat("a", 32<<10))).status
		}, 413, "/api/v1/admin/productos"},
		{"404 of a known route", "DELETE", func(t *testing.T) int { return send(t, "DELETE", "/api/v1/admin/imagenes/999999", e.admin, nil) }, 404, "/api/v1/admin/imagenes/:id"},
		{"404 of an unknown path", "GET", func(t *testing.T) int { return send(t, "GET", "/no/such/page", "", nil) }, 404, "unmatched"},
		{"a known path with another method", "PUT", func(t *testing.T) int { return send(t, "PUT", "/healthz", "", nil) }, 0, "unmatched"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := scrapeRequests(t, client, base)
			status := tt.send(t)
			if tt.status != 0 && status != tt.status {
				t.Fatalf("status %d, want %d", status, tt.status)
			}
			after := scrapeRequests(t, client, base)
			k := requestSeries{tt.method, tt.route, status}
			if after[k]-before[k] != 1 {
				var grew []string
				for s, n := range after {
					if n != before[s] && s.route != "/metrics" {
						grew = append(grew, s.method+" "+s.route+" "+http.StatusText(s.status))
					}
				}
				t.Errorf("imagenes_http_requests_total%v grew by %v, want 1; series that grew: %v", k, after[k]-before[k], grew)
			}
		})
	}
}

type requestSeries struct {
	method, route string
	status        int
}

// scrapeRequests reads imagenes_http_requests_total from /metrics.
func scrapeRequests(t *testing.T, client *http.Client, base string) map[requestSeries]float64 {
	t.Helper()
	res, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	out := map[requestSeries]float64{}
	for _, m := range fams["imagenes_http_requests_total"].GetMetric() {
		var s requestSeries
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "method":
				s.method = l.GetValue()
			case "route":
				s.route = l.GetValue()
			case "status":
				s.status, _ = strconv.Atoi(l.GetValue())
			}
		}
		out[s] = m.GetCounter().GetValue()
	}
	return out
}
