package handlers_test

import (
	"context"
	"testing"
)

// BenchmarkBalsamoaSession measures what checking a Balsamoa session costs
// a request: the same admin request with a {sub, role} token, with a
// Balsamoa token that names no session (claims mapping only), and with one
// that names its session (plus one primary-key lookup in usuarios). The
// difference between the last two is the lookup, which "lookup" times
// alone (the query the middleware sends, on the pool the app uses).
//
//	go test -run '^$' -bench BalsamoaSession -benchtime 2000x ./internal/handlers/
func BenchmarkBalsamoaSession(b *testing.B) {
	e := newEnv(b, envOpts{balsamoa: true})
	for _, bb := range []struct {
		name  string
		token string
	}{
		{"sub-role", e.admin},
		{"balsamoa-no-session", balsamoaToken(b, 1, 1, nil)},
		{"balsamoa-session-lookup", balsamoaToken(b, 1, 1, anaSesion)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			r := req{method: "GET", path: "/api/v1/admin/papelera?limite=1", header: cookie(bb.token)}
			for i := 0; i < b.N; i++ {
				if got := e.do(b, r); got.status != 200 {
					b.Fatalf("got %d %s", got.status, got.body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/req")
		})
	}
	b.Run("lookup", func(b *testing.B) {
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			if ok, err := e.store.SesionActiva(ctx, 1, anaSesion); err != nil || !ok {
				b.Fatalf("got %v %v, want an open session", ok, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/lookup")
	})
}
