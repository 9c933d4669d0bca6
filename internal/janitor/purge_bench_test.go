package janitor_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/imagenes/imagenes/internal/storagetest"
)

// BenchmarkPurge is a pass that purges n expired trash entries and their
// files on the bucket (MinIO, through the counting proxy): its time and the
// requests it sends.
//
//	go test -run '^$' -bench Purge -benchtime 1x ./internal/janitor/
func BenchmarkPurge(b *testing.B) {
	for _, n := range []int{5000} {
		b.Run(fmt.Sprintf("s3/entries=%d", n), func(b *testing.B) {
			var reqs int
			for range b.N {
				b.StopTimer()
				f := newPurgeFixture(b, storagetest.S3)
				f.expired(n)
				f.proxy.Take()
				b.StartTimer()
				rep, err := f.j.Run(context.Background(), purgeCfg())
				if err != nil || rep.Purged != n {
					b.Fatalf("purged %d of %d: %v", rep.Purged, n, err)
				}
				b.StopTimer()
				got := f.proxy.Take()
				reqs += len(got)
				b.Logf("%d entries: %s", n, summarize(got))
			}
			b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
		})
	}
}
