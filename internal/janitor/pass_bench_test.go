package janitor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// BenchmarkPass is one consistent pass over n files and rows; items/s
// counts both.
//
//	go test -run '^$' -bench Pass -benchtime 5x ./internal/janitor/
//
// scripts/janitor-measure.sh measures the real binary at 100 000 and more,
// with its peak memory.
func BenchmarkPass(b *testing.B) {
	for _, n := range []int{20000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			f := newFixture(b)
			imgs := make([]repo.NuevaImagen, n)
			for i := range imgs {
				url := storage.NewImageURL("png")
				p := f.live(url)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					b.Fatal(err)
				}
				imgs[i] = repo.NuevaImagen{URL: url, Orden: 1}
			}
			if _, err := f.store.CopyImagenes(context.Background(), imgs, time.Now()); err != nil {
				b.Fatal(err)
			}
			c := cfg()
			c.BatchSize = 1000
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := f.j.Run(context.Background(), c)
				if err != nil || rep.Orphans+rep.Dangling != 0 {
					b.Fatalf("%+v %v", rep, err)
				}
			}
			b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
