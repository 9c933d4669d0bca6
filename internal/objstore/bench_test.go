package objstore_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
)

// BenchmarkMove is the protocol's reversible step — a move to the trash and
// back — on each backend. On s3 each move is a HEAD of the target, a
// server-side copy and a delete (three requests, TestMoveRequests); on disk
// one renameat2 on open folders.
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
			st, err := be.Stage(b.Context(), bytes.NewReader(pngBytes), 1<<20, allTypes)
			if err != nil {
				b.Fatal(err)
			}
			if err := be.Publish(b.Context(), st, url); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				trashName := fmt.Sprintf("%d-1-bench.png", i+1)
				if moved, err := be.MoveToTrash(b.Context(), url, trashName); err != nil || !moved {
					b.Fatalf("to the trash: %v %v", moved, err)
				}
				if err := be.MoveFromTrash(b.Context(), trashName, url); err != nil {
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
	st, err := s.Stage(b.Context(), bytes.NewReader(pngBytes), 1<<20, allTypes)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Publish(b.Context(), st, url); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, err := s.LiveExists(b.Context(), url); err != nil || !ok {
			b.Fatalf("%v %v", ok, err)
		}
	}
}

// BenchmarkS3Request times each kind of request a move to the trash makes,
// alone and one at a time, straight through the client: a HEAD that finds
// the object, a HEAD that does not (the target of a move), the bucket
// check (a move no longer sends one; stat confirms a 404 with it), the
// server-side copy, the delete; and the PUT of an upload. make bench BACKEND=s3 prints them beside its
// count of requests per delete.
func BenchmarkS3Request(b *testing.B) {
	s := s3test.New(b, "")
	c, bucket := s.Client(), s.Bucket()
	ctx := context.Background()
	src := "recursos/imagenes/productos/be/bench.png"
	if _, err := c.PutObject(ctx, bucket, src, bytes.NewReader(pngBytes), int64(len(pngBytes)), minio.PutObjectOptions{}); err != nil {
		b.Fatal(err)
	}
	copyTo := func(i int) string {
		dst := fmt.Sprintf(".papelera/%d-1-bench.png", i)
		if _, err := c.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: dst},
			minio.CopySrcOptions{Bucket: bucket, Object: src}); err != nil {
			b.Fatal(err)
		}
		return dst
	}
	cases := []struct {
		name string
		op   func(i int) error
	}{
		{"head-found", func(int) error {
			_, err := c.StatObject(ctx, bucket, src, minio.StatObjectOptions{})
			return err
		}},
		{"head-missing", func(int) error {
			_, err := c.StatObject(ctx, bucket, ".papelera/no-existe.png", minio.StatObjectOptions{})
			if minio.ToErrorResponse(err).StatusCode == 404 {
				return nil
			}
			return fmt.Errorf("want a 404, got %v", err)
		}},
		{"head-bucket", func(int) error { _, err := c.BucketExists(ctx, bucket); return err }},
		{"copy", func(i int) error { copyTo(i); return nil }},
		{"delete", func(i int) error {
			b.StopTimer()
			dst := copyTo(1_000_000 + i)
			b.StartTimer()
			return c.RemoveObject(ctx, bucket, dst, minio.RemoveObjectOptions{})
		}},
		{"put", func(i int) error {
			_, err := c.PutObject(ctx, bucket, fmt.Sprintf("recursos/imagenes/productos/be/%d.png", i),
				bytes.NewReader(pngBytes), int64(len(pngBytes)), minio.PutObjectOptions{})
			return err
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := tc.op(i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
