package objstore

import (
	"context"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/storage"
)

const markerText = "This bucket (or prefix) is the storage of imagenes. Do not delete this object: the janitor refuses to run without it.\n"

// MarkerExists reports whether the marker object is present. The janitor
// refuses to work without it: a wrong bucket or prefix looks empty, and
// reconciling against it would call every row dangling.
func (s *Store) MarkerExists(ctx context.Context) (bool, error) {
	return s.exists(ctx, s.prefix+storage.MarkerName)
}

// WriteMarker creates the marker object if absent.
func (s *Store) WriteMarker(ctx context.Context) error {
	k := s.prefix + storage.MarkerName
	if ok, err := s.exists(ctx, k); err != nil || ok {
		return err
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.c.PutObject(rctx, s.bucket, k, strings.NewReader(markerText), int64(len(markerText)),
		minio.PutObjectOptions{ContentType: "text/plain; charset=utf-8"})
	if err != nil {
		return s.fail("write", k, err)
	}
	return nil
}
