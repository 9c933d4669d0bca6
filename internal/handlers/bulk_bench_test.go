package handlers_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/storagetest"
)

// BenchmarkBulkDelete is one POST /api/v1/admin/imagenes/eliminar of n ids
// through the real app, on a folder in t.TempDir() and on a bucket of the
// test MinIO: the rows (COPY) and their files are made outside the timer,
// so images/s is the route's own rate (make bench compares it with single
// deletes). On the bucket it also times requests above its cap
// (objstore.MaxMovesPerRequest, lifted here), with the request time limit
// raised to a minute, so that what the cap keeps off is timed rather than
// cut at REQUEST_TIMEOUT.
//
//	go test -run '^$' -bench BulkDelete -benchtime 20x -cpuprofile cpu.out ./internal/handlers/
//	IMAGENES_TEST_S3_URL=$(scripts/minio.sh start test) go test -run '^$' -bench 'BulkDelete/s3' -benchtime 3x ./internal/handlers/
func BenchmarkBulkDelete(b *testing.B) {
	for _, tc := range []struct {
		storage string
		n       int
	}{{storagetest.Disk, 100}, {storagetest.Disk, 1000}, {storagetest.S3, 100}, {storagetest.S3, 250}, {storagetest.S3, 500}, {storagetest.S3, 1000}} {
		b.Run(fmt.Sprintf("%s/ids=%d", tc.storage, tc.n), func(b *testing.B) {
			e := newEnv(b, envOpts{storage: tc.storage, requestTimeout: time.Minute, uncapped: true})
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				_, _, body := e.seedImages(b, tc.n)
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
			b.ReportMetric(float64(tc.n*b.N)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/request")
			b.ReportMetric(0, "ns/op")
		})
	}
}
