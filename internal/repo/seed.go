package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CopyImagenes bulk-loads image rows with COPY (benchmarks and measurements
// seed hundreds of thousands of rows; one INSERT each would take minutes).
func (s *Store) CopyImagenes(ctx context.Context, imgs []NuevaImagen, at time.Time) (int64, error) {
	n, err := s.db.CopyFrom(ctx, pgx.Identifier{"producto_imagenes"},
		[]string{"producto_id", "url", "orden", "owner_sub", "bytes", "content_type", "sha256", "created_at"},
		pgx.CopyFromSlice(len(imgs), func(i int) ([]any, error) {
			m := imgs[i]
			var owner, ct, sum *string
			if m.OwnerSub != "" {
				owner = &m.OwnerSub
			}
			if m.ContentType != "" {
				ct = &m.ContentType
			}
			if m.SHA256 != "" {
				sum = &m.SHA256
			}
			return []any{m.ProductoID, m.URL, m.Orden, owner, m.Bytes, ct, sum, at}, nil
		}))
	if err != nil {
		return n, fmt.Errorf("copy imagenes: %w", translate(err))
	}
	return n, nil
}

// MaxImagenID is the highest image id (0 when empty).
func (s *Store) MaxImagenID(ctx context.Context) (int32, error) {
	var id int32
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(max(id), 0) FROM producto_imagenes`).Scan(&id); err != nil {
		return 0, fmt.Errorf("max imagen id: %w", translate(err))
	}
	return id, nil
}
