package objstore_test

// The bucket's run of the storage conformance suite (storagetest.RunConformance),
// with and without a key prefix, and the helpers the bucket's own tests share.

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

var (
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte("p"), 100)...)
	allTypes = []string{"image/jpeg", "image/png", "image/webp", "image/gif"}
)

// backend is one storage under test, with a way to write a key behind the
// storage's back (a shop's own file, a leftover) as an operator would.
type backend struct {
	storage.Backend
	putRaw func(t *testing.T, key string, data []byte)
	s3     *objstore.Store // s3 backends only
	prefix string
}

// exists and remove reach an s3 backend's keys directly.
func (b backend) exists(t *testing.T, key string) bool {
	t.Helper()
	_, err := b.s3.Client().StatObject(context.Background(), b.s3.Bucket(), b.prefix+key, minio.StatObjectOptions{})
	return err == nil
}

func (b backend) remove(t *testing.T, key string) {
	t.Helper()
	if err := b.s3.Client().RemoveObject(context.Background(), b.s3.Bucket(), b.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func backends(t *testing.T) map[string]func(t *testing.T) backend {
	return map[string]func(t *testing.T) backend{
		"disk": func(t *testing.T) backend {
			root := t.TempDir()
			s, err := storage.Open(root)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return backend{Backend: s, putRaw: func(t *testing.T, key string, data []byte) {
				p := filepath.Join(root, filepath.FromSlash(key))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}}
		},
		"s3":        func(t *testing.T) backend { return s3backend(t, "") },
		"s3-prefix": func(t *testing.T) backend { return s3backend(t, "tienda/imagenes") },
	}
}

func s3backend(t *testing.T, prefix string) backend {
	return s3backendOf(s3test.New(t, prefix), prefix)
}

// s3backendOf is the backend of s, a store on a bucket with key prefix.
func s3backendOf(s *objstore.Store, prefix string) backend {
	if prefix != "" {
		prefix += "/"
	}
	return backend{Backend: s, s3: s, prefix: prefix, putRaw: func(t *testing.T, key string, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := s.Client().PutObject(ctx, s.Bucket(), prefix+key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}}
}

// forEach runs fn on every backend.
func forEach(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, mk(t))
		})
	}
}

const url1 = "/recursos/imagenes/productos/ab/abc.png"

// An s3 listing holds one page at a time: with pages of 2 keys, 7 objects
// are still all listed, in order, over 4 requests.
func TestWalkPages(t *testing.T) {
	t.Parallel()
	o := s3test.Bucket(t)
	o.PageSize = 2
	s, err := objstore.Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b := backend{Backend: s, putRaw: func(t *testing.T, key string, data []byte) {
		if _, err := s.Client().PutObject(context.Background(), s.Bucket(), key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}}
	var want []string
	for i := 0; i < 7; i++ {
		u := "/recursos/imagenes/productos/p/" + string(rune('a'+i)) + ".png"
		b.putRaw(t, u[1:], pngBytes)
		want = append(want, u)
	}
	var got []string
	if err := b.WalkLive(t.Context(), func(u string, _ fs.DirEntry) error { got = append(got, u); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestConformance runs the storage conformance suite on a real MinIO
// bucket, without and with a key prefix.
func TestConformance(t *testing.T) {
	caps := storage.Capabilities{MoveConcurrency: 8, MaxMovesPerRequest: objstore.MaxMovesPerRequest, CopyMoves: true, Thumbnails: true, Presign: true}
	for _, prefix := range []string{"", "tienda/imagenes"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			storagetest.RunConformance(t, storagetest.Harness{Capabilities: caps, Make: func(t *testing.T) storagetest.Driver {
				b := s3backend(t, prefix)
				return storagetest.Driver{Backend: b.Backend, PutRaw: b.putRaw}
			}})
		})
	}
}
