package handlers_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsSurviveMixedMethods: labels once aliased fasthttp's reused
// request buffer, so after a few requests of mixed methods and unknown
// routes /metrics held methods no client sent ("GETETE") and then a
// duplicate series made every scrape a 500. The requests go over a real
// listener, with keep-alive, where the buffers are reused.
func TestMetricsSurviveMixedMethods(t *testing.T) {
	e := newEnv(t)
	base := e.listen()
	client := &http.Client{Timeout: 10 * time.Second}
	scenarios := []struct{ method, path string }{
		{"PUT", "/nope"}, {"GET", "/nope"}, {"DELETE", "/x"}, {"POST", "/healthz"},
		{"GET", "/healthz"}, {"PATCH", "/api/v1/admin/productos/1/activar"}, {"OPTIONS", "/"},
		{"HEAD", "/recursos/none.png"}, {"BREW", "/coffee"}, {"PROPFIND", "/dav/a/b"},
		{"GET", "/api/images"}, {"DELETE", "/api/image/1"}, {"PUT", "/nope/longer/path"},
	}
	for round := 0; round < 5; round++ {
		for _, s := range scenarios {
			r, err := http.NewRequest(s.method, base+s.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := client.Do(r)
			if err != nil {
				t.Fatalf("%s %s: %v", s.method, s.path, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	}
	for scrape := 0; scrape < 3; scrape++ {
		res, err := client.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("scrape %d: /metrics = %d: %s", scrape, res.StatusCode, body)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("scrape %d: not Prometheus text: %v", scrape, err)
		}
		fam := fams["imagenes_http_requests_total"]
		if fam == nil {
			t.Fatalf("scrape %d: no imagenes_http_requests_total", scrape)
		}
		real := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true, "OTHER": true}
		seen := map[string]bool{}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					if !real[l.GetValue()] {
						t.Errorf("scrape %d: method label %q no client sent", scrape, l.GetValue())
					}
					seen[l.GetValue()] = true
				}
			}
		}
		if !seen["PUT"] || !seen["DELETE"] {
			t.Errorf("scrape %d: methods seen %v, want PUT and DELETE among them", scrape, seen)
		}
	}
}
