// Package storagetest gives a test the storage it runs on — a folder in
// t.TempDir(), or a fresh bucket on the test MinIO — with raw access behind
// the storage's back, to set up what a crash, an operator or another
// program leaves. Test-only.
//
// IMAGENES_TEST_STORAGE picks the backend of the suites that read it
// (handlers, janitor): unset or "disk" is the folder, "s3" the bucket.
// `make test` runs those suites once on each.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
)

// EnvKind names the variable that picks the backend.
const EnvKind = "IMAGENES_TEST_STORAGE"

// Kinds of storage.
const (
	Disk = "disk"
	S3   = "s3"
)

// KindFromEnv is the backend IMAGENES_TEST_STORAGE asks for; an unknown
// value fails the test rather than quietly testing the folder.
func KindFromEnv(t testing.TB) string {
	t.Helper()
	switch k := os.Getenv(EnvKind); k {
	case "", Disk:
		return Disk
	case S3:
		return S3
	default:
		t.Fatalf("%s=%q: want disk or s3", EnvKind, k)
		return ""
	}
}

// Kit is one test's storage.
type Kit struct {
	storage.Backend
	Kind string
	Dir  string // the folder (disk only)
	s3   *objstore.Store
}

// New opens a storage of kind for t, closed and removed when t ends.
func New(t testing.TB, kind string) *Kit {
	t.Helper()
	if kind == S3 {
		s := s3test.New(t, "")
		return &Kit{Backend: s, Kind: S3, s3: s}
	}
	root := t.TempDir()
	s, err := storage.Open(root)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &Kit{Backend: s, Kind: Disk, Dir: root}
}

// NewS3 opens a storage on the bucket o names (s3test.Bucket's, which the
// caller may have pointed through an s3test.Proxy), closed when t ends.
func NewS3(t testing.TB, o objstore.Options) *Kit {
	t.Helper()
	s, err := objstore.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open test bucket: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &Kit{Backend: s, Kind: S3, s3: s}
}

// FromEnv is New with the kind IMAGENES_TEST_STORAGE asks for.
func FromEnv(t testing.TB) *Kit { return New(t, KindFromEnv(t)) }

// S3 is the object store (nil on disk).
func (k *Kit) S3() *objstore.Store { return k.s3 }

// Skew is how far ahead of the wall clock a janitor pass must run for
// objects written now to be as old as Put makes files on disk: an object's
// Last-Modified is the server's, and cannot be set back.
func (k *Kit) Skew() time.Duration {
	if k.Kind == S3 {
		return 2 * time.Hour
	}
	return 0
}

// Put writes key (a path below the root, "recursos/…" or ".papelera/…")
// with data, as modified age ago on disk (on s3, now: see Skew).
func (k *Kit) Put(t testing.TB, key string, data []byte, age time.Duration) {
	t.Helper()
	if k.Kind == S3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := k.s3.Client().PutObject(ctx, k.s3.Bucket(), key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		return
	}
	p := filepath.Join(k.Dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-age)
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

// PutMany writes data at every key, new now: sixteen PUTs in flight on
// s3 (a thousand in turn take seconds), in turn on disk.
func (k *Kit) PutMany(t testing.TB, keys []string, data []byte) {
	t.Helper()
	if k.Kind != S3 {
		for _, key := range keys {
			k.Put(t, key, data, 0)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, key := range keys {
		g.Go(func() error {
			if _, err := k.s3.Client().PutObject(ctx, k.s3.Bucket(), key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				return fmt.Errorf("put %s: %w", key, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// Exists reports whether key is there.
func (k *Kit) Exists(t testing.TB, key string) bool {
	t.Helper()
	if k.Kind == S3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := k.s3.Client().StatObject(ctx, k.s3.Bucket(), key, minio.StatObjectOptions{})
		if err != nil && minio.ToErrorResponse(err).StatusCode != 404 {
			t.Fatalf("stat %s: %v", key, err)
		}
		return err == nil
	}
	_, err := os.Lstat(filepath.Join(k.Dir, filepath.FromSlash(key)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat %s: %v", key, err)
	}
	return err == nil
}

// Read returns key's bytes.
func (k *Kit) Read(t testing.TB, key string) []byte {
	t.Helper()
	if k.Kind == S3 {
		o, err := k.s3.Client().GetObject(context.Background(), k.s3.Bucket(), key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer o.Close()
		b, err := io.ReadAll(o)
		if err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		return b
	}
	b, err := os.ReadFile(filepath.Join(k.Dir, filepath.FromSlash(key)))
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

// Remove deletes key (missing is fine).
func (k *Kit) Remove(t testing.TB, key string) {
	t.Helper()
	if k.Kind == S3 {
		if err := k.s3.Client().RemoveObject(context.Background(), k.s3.Bucket(), key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatalf("remove %s: %v", key, err)
		}
		return
	}
	if err := os.Remove(filepath.Join(k.Dir, filepath.FromSlash(key))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("remove %s: %v", key, err)
	}
}

// Copy copies from to to: on s3 what a move cut between its copy and its
// delete leaves.
func (k *Kit) Copy(t testing.TB, from, to string) {
	t.Helper()
	if k.Kind == S3 {
		_, err := k.s3.Client().CopyObject(context.Background(),
			minio.CopyDestOptions{Bucket: k.s3.Bucket(), Object: to},
			minio.CopySrcOptions{Bucket: k.s3.Bucket(), Object: from})
		if err != nil {
			t.Fatalf("copy %s to %s: %v", from, to, err)
		}
		return
	}
	k.Put(t, to, k.Read(t, from), 0)
}

// Move renames from to to (copy then delete on s3).
func (k *Kit) Move(t testing.TB, from, to string) {
	t.Helper()
	if k.Kind == S3 {
		k.Copy(t, from, to)
		k.Remove(t, from)
		return
	}
	if err := os.Rename(filepath.Join(k.Dir, filepath.FromSlash(from)), filepath.Join(k.Dir, filepath.FromSlash(to))); err != nil {
		t.Fatalf("move %s to %s: %v", from, to, err)
	}
}

// Keys lists every file or object, as paths below the root, sorted;
// staging (.tmp) is left out, being per backend.
func (k *Kit) Keys(t testing.TB) []string {
	t.Helper()
	var keys []string
	if k.Kind == S3 {
		for oi := range k.s3.Client().ListObjectsIter(context.Background(), k.s3.Bucket(), minio.ListObjectsOptions{Recursive: true}) {
			if oi.Err != nil {
				t.Fatalf("list: %v", oi.Err)
			}
			keys = append(keys, oi.Key)
		}
	} else {
		err := filepath.WalkDir(k.Dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				rel, _ := filepath.Rel(k.Dir, p)
				if rel = filepath.ToSlash(rel); !strings.HasPrefix(rel, ".tmp/") {
					keys = append(keys, rel)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
	}
	slices.Sort(keys)
	return keys
}

// Trash lists the trash's file names, sorted.
func (k *Kit) Trash(t testing.TB) []string {
	t.Helper()
	var names []string
	if err := k.WalkTrash(t.Context(), func(n string, _ fs.FileInfo) error { names = append(names, n); return nil }); err != nil {
		t.Fatalf("walk trash: %v", err)
	}
	slices.Sort(names)
	return names
}

// Staging lists the uploads staged and not yet published or discarded:
// the folder's .tmp, or the object store's local spool.
func (k *Kit) Staging(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join(k.Dir, ".tmp")
	if k.Kind == S3 {
		dir = k.s3.Spool()
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read staging: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Live reports whether url has a live file.
func (k *Kit) Live(t testing.TB, url string) bool {
	t.Helper()
	ok, err := k.LiveExists(t.Context(), url)
	if err != nil {
		t.Fatalf("live exists %s: %v", url, err)
	}
	return ok
}
