package objstore

import (
	"context"
	"errors"
	"io/fs"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/storage"
)

// DefaultPageSize is the keys asked for per listing request: the walk holds
// one page at a time, so memory does not grow with the bucket.
const DefaultPageSize = 1000

// list calls fn for every object under prefix (recursively), page by page.
// fn returning fs.SkipAll stops the listing without error. Each page's
// request is bounded by the transport's time limit.
func (s *Store) list(prefix string, fn func(minio.ObjectInfo) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the listing goroutine when fn stops early
	for oi := range s.c.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, MaxKeys: s.pageSize}) {
		if oi.Err != nil {
			return s.fail("list", prefix, oi.Err)
		}
		if strings.HasSuffix(oi.Key, "/") {
			continue // a "folder" object some tools create
		}
		if err := fn(oi); err != nil {
			if errors.Is(err, fs.SkipAll) {
				return nil
			}
			return err
		}
	}
	return nil
}

// WalkLive calls fn for every product image (storage.IsProductImage) under
// recursos/imagenes/productos/, with its url and an entry whose Info has the
// object's size and Last-Modified (the orphan grace is measured on it).
// Keys that storage.RelPath refuses (hidden segments, control characters)
// are skipped. fn returning fs.SkipAll stops the walk without error.
func (s *Store) WalkLive(fn func(url string, d fs.DirEntry) error) error {
	return s.list(s.prefix+strings.TrimPrefix(storage.ProductPrefix, "/"), func(oi minio.ObjectInfo) error {
		url := "/" + strings.TrimPrefix(oi.Key, s.prefix)
		if _, err := storage.RelPath(url); err != nil || !storage.IsProductImage(url) {
			return nil
		}
		return fn(url, entry{info(oi)})
	})
}

// WalkTrash calls fn for every object directly in the trash. fn returning
// fs.SkipAll stops the walk without error.
func (s *Store) WalkTrash(fn func(name string, info fs.FileInfo) error) error {
	base := s.prefix + trashDir
	return s.list(base, func(oi minio.ObjectInfo) error {
		name := strings.TrimPrefix(oi.Key, base)
		if storage.CheckTrashName(name) != nil {
			return nil
		}
		return fn(name, info(oi))
	})
}

// entry is a listed object as an fs.DirEntry.
type entry struct{ i Info }

func (e entry) Name() string               { return e.i.Name() }
func (e entry) IsDir() bool                { return false }
func (e entry) Type() fs.FileMode          { return 0 }
func (e entry) Info() (fs.FileInfo, error) { return e.i, nil }
