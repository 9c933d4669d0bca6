package handlers_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imagenes/imagenes/internal/storagetest"
)

// BenchmarkBulkDelete is one POST /api/v1/admin/imagenes/eliminar of n ids
// through the real app, on a folder in t.TempDir(): the rows (COPY) and
// their files are made outside the timer, so images/s is the route's own
// rate (make bench compares it with single deletes).
//
//	go test -run '^$' -bench BulkDelete -benchtime 20x -cpuprofile cpu.out ./internal/handlers/
func BenchmarkBulkDelete(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("ids=%d", n), func(b *testing.B) {
			e := newEnv(b, envOpts{storage: storagetest.Disk})
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				_, _, body := e.seedImages(b, n)
				b.StartTimer()
				hr := httptest.NewRequest("POST", "http://example.test/api/v1/admin/imagenes/eliminar", strings.NewReader(body))
				hr.Header.Set("Authorization", "Bearer "+e.admin)
				hr.Header.Set("Content-Type", "application/json")
				res, err := e.app.Test(hr, -1)
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || strings.Contains(string(out), `"no_encontradas":[1`) {
					b.Fatalf("got %d %.200s, want 200 with every id deleted", res.StatusCode, out)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
