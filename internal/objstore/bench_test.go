package objstore_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
)

// BenchmarkMove is the protocol's reversible step — a move to the trash and
// back — on each backend. On s3 each move is a stat of the source, one of
// the target, a server-side copy and a delete (four requests); on disk one
// renameat2 on open folders.
//
//	IMAGENES_TEST_S3_URL=$(scripts/minio.sh start test) go test -run '^$' -bench Move ./internal/objstore/
func BenchmarkMove(b *testing.B) {
	for _, name := range []string{"disk", "s3"} {
		b.Run(name, func(b *testing.B) {
			var be storage.Backend
			if name == "s3" {
				be = s3test.New(b, "")
			} else {
				s, err := storage.Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				be = s
			}
			url := "/recursos/imagenes/productos/be/bench.png"
			st, err := be.Stage(bytes.NewReader(pngBytes), 1<<20, allTypes)
			if err != nil {
				b.Fatal(err)
			}
			if err := be.Publish(st, url); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				trashName := fmt.Sprintf("%d-1-bench.png", i+1)
				if moved, err := be.MoveToTrash(url, trashName); err != nil || !moved {
					b.Fatalf("to the trash: %v %v", moved, err)
				}
				if err := be.MoveFromTrash(trashName, url); err != nil {
					b.Fatalf("back: %v", err)
				}
			}
		})
	}
}

// BenchmarkStat is one existence check (a HEAD on s3, an fstatat on disk):
// with BenchmarkMove it says where a move's time goes.
func BenchmarkStat(b *testing.B) {
	s := s3test.New(b, "")
	url := "/recursos/imagenes/productos/be/bench.png"
	st, err := s.Stage(bytes.NewReader(pngBytes), 1<<20, allTypes)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Publish(st, url); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, err := s.LiveExists(url); err != nil || !ok {
			b.Fatalf("%v %v", ok, err)
		}
	}
}
