package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/storage"
)

// DefaultPageSize is the keys asked for per listing request: the walk holds
// one page at a time, so memory does not grow with the bucket.
const DefaultPageSize = 1000

// list calls fn for every object under prefix (recursively), page by page.
// fn returning fs.SkipAll stops the listing without error. The listing ends
// with the caller's ctx. Each page's request, its body included, is also
// bounded by the time limit: a timer that cancels the listing runs while the iterator fetches a page, never while
// fn works (the janitor's database rounds). A listing the timer cut is an
// error, never a short listing (the iterator ends silently on a cancelled
// context, and a short listing would make rows look dangling).
func (s *Store) list(ctx context.Context, prefix string, fn func(minio.ObjectInfo) error) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing when fn stops early
	stall := time.AfterFunc(s.timeout, cancel)
	defer stall.Stop()
	cut := func() error {
		if err := ctx.Err(); err != nil {
			return s.fail("list", prefix, err)
		}
		return s.fail("list", prefix, fmt.Errorf("no page within %s: %w", s.timeout, context.DeadlineExceeded))
	}
	for oi := range s.c.ListObjectsIter(rctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, MaxKeys: s.pageSize}) {
		if !stall.Stop() {
			return cut()
		}
		if oi.Err != nil {
			return s.fail("list", prefix, oi.Err)
		}
		if !strings.HasSuffix(oi.Key, "/") { // else a "folder" object some tools create
			if err := fn(oi); err != nil {
				if errors.Is(err, fs.SkipAll) {
					return nil
				}
				return err
			}
		}
		stall.Reset(s.timeout)
	}
	// The iterator ends silently on a cancelled context, whether the timer
	// or the caller cancelled it.
	if !stall.Stop() || ctx.Err() != nil {
		return cut()
	}
	return nil
}

// WalkLive calls fn for every product image (storage.IsProductImage) under
// recursos/imagenes/productos/, with its url and an entry whose Info has the
// object's size and Last-Modified (the orphan grace is measured on it).
// Keys that storage.RelPath refuses (hidden segments, control characters)
// are skipped. fn returning fs.SkipAll stops the walk without error.
func (s *Store) WalkLive(ctx context.Context, fn func(url string, d fs.DirEntry) error) error {
	return s.list(ctx, s.prefix+strings.TrimPrefix(storage.ProductPrefix, "/"), func(oi minio.ObjectInfo) error {
		url := "/" + strings.TrimPrefix(oi.Key, s.prefix)
		if _, err := storage.RelPath(url); err != nil || !storage.IsProductImage(url) {
			return nil
		}
		return fn(url, entry{info(oi)})
	})
}

// WalkTrash calls fn for every object directly in the trash. fn returning
// fs.SkipAll stops the walk without error.
func (s *Store) WalkTrash(ctx context.Context, fn func(name string, info fs.FileInfo) error) error {
	base := s.prefix + trashDir
	return s.list(ctx, base, func(oi minio.ObjectInfo) error {
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
