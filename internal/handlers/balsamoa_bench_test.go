package handlers_test

import (
	"context"
	"testing"
)

// BenchmarkBalsamoaSession measures what checking a Balsamoa session costs
// a request: the same admin request with a {sub, role} token, with a
// Balsamoa token that names no session (claims mapping only; beside no
// usuarios table, the only place such a token is valid), and with one
// that names its session (plus one primary-key lookup in usuarios). The
// difference between the last two is the lookup, which "lookup" times
// alone (the query the middleware sends, on the pool the app uses).
//
//	go test -run '^$' -bench BalsamoaSession -benchtime 2000x ./internal/handlers/
func BenchmarkBalsamoaSession(b *testing.B) {
	e := newEnv(b, envOpts{balsamoa: true})
	plain := newEnv(b) // no usuarios table: a token naming no session is valid there
	for _, bb := range []struct {
		name  string
		env   *env
		token string
	}{
		{"sub-role", e, e.admin},
		{"balsamoa-no-session", plain, balsamoaToken(b, 1, 1, nil)},
		{"balsamoa-session-lookup", e, balsamoaToken(b, 1, 1, anaSesion)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			r := req{method: "GET", path: "/api/v1/admin/papelera?limite=1", header: cookie(bb.token)}
			for i := 0; i < b.N; i++ {
				if got := bb.env.do(b, r); got.status != 200 {
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
