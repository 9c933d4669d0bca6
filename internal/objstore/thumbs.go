package objstore

import (
	"bytes"
	"context"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/storage"
)

// The thumbnail cache on the bucket: the same keys as on disk
// (storage.ThumbKey under the prefix), so the thumbnail routes and the
// janitor's sweep work on either backend.

// OpenTrash opens trash object name (the admin's preview of a trashed
// image).
func (s *Store) OpenTrash(ctx context.Context, name string) (storage.File, error) {
	k, err := s.trashKey(name)
	if err != nil {
		return nil, err
	}
	return s.open(ctx, k)
}

// OpenThumb opens the cached thumbnail of url at width w.
func (s *Store) OpenThumb(ctx context.Context, url string, w int, ext string) (storage.File, error) {
	k, err := storage.ThumbKey(url, w, ext)
	if err != nil {
		return nil, err
	}
	return s.open(ctx, s.prefix+k)
}

// WriteThumb PUTs the thumbnail of url at width w. A PUT is atomic, and two
// writers of one thumbnail write the same bytes, so the last one may win.
func (s *Store) WriteThumb(ctx context.Context, url string, w int, ext string, data []byte) error {
	k, err := storage.ThumbKey(url, w, ext)
	if err != nil {
		return err
	}
	ct := "image/png"
	if ext == "jpg" {
		ct = "image/jpeg"
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	if _, err := s.c.PutObject(rctx, s.bucket, s.prefix+k, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{ContentType: ct}); err != nil {
		return s.fail("put", s.prefix+k, err)
	}
	return nil
}

// RemoveThumb deletes the cached thumbnail at key (as WalkThumbs gives it);
// a missing one is fine.
func (s *Store) RemoveThumb(ctx context.Context, key string) error {
	if err := storage.CheckThumbKey(key); err != nil {
		return err
	}
	return s.remove(ctx, s.prefix+storage.ThumbDir+"/"+key)
}

// WalkThumbs calls fn for every cached thumbnail with its key (below
// .miniaturas/), page by page. fn returning fs.SkipAll stops the walk.
func (s *Store) WalkThumbs(ctx context.Context, fn func(key string) error) error {
	base := s.prefix + storage.ThumbDir + "/"
	return s.list(ctx, base, func(oi minio.ObjectInfo) error {
		key := strings.TrimPrefix(oi.Key, base)
		if storage.CheckThumbKey(key) != nil {
			return nil
		}
		return fn(key)
	})
}
