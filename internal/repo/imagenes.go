package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Imagen is a row of producto_imagenes. Rows written by Balsamoa have no
// owner, size, type, hash or creation time, hence the pointers.
type Imagen struct {
	ID          int32      `db:"id"`
	ProductoID  *int32     `db:"producto_id"`
	URL         string     `db:"url"`
	Orden       *int32     `db:"orden"`
	OwnerSub    *string    `db:"owner_sub"`
	Bytes       *int64     `db:"bytes"`
	ContentType *string    `db:"content_type"`
	SHA256      *string    `db:"sha256"`
	CreatedAt   *time.Time `db:"created_at"`
}

// NuevaImagen is what an upload or a product write stores.
type NuevaImagen struct {
	ProductoID  *int32
	URL         string
	Orden       int32
	OwnerSub    string
	Bytes       int64
	ContentType string
	SHA256      string
}

// Scope limits which images a caller may see: an empty Owner means all
// (admins); otherwise only images uploaded by that sub.
type Scope struct {
	Owner string
}

// All is the scope of an admin.
var All = Scope{}

// Allows reports whether the scope may see an image owned by owner: the
// same rule as the SQL that ownerArg feeds.
func (s Scope) Allows(owner *string) bool {
	return s.Owner == "" || (owner != nil && *owner == s.Owner)
}

func (s Scope) ownerArg() *string {
	if s.Owner == "" {
		return nil
	}
	return &s.Owner
}

const imagenColumns = `id, producto_id, url, orden, owner_sub, bytes, content_type, sha256, created_at`

// InsertImagen stores a new image row.
func (s *Store) InsertImagen(ctx context.Context, n NuevaImagen) (Imagen, error) {
	const q = `INSERT INTO producto_imagenes (producto_id, url, orden, owner_sub, bytes, content_type, sha256)
VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, 0), NULLIF($6, ''), NULLIF($7, ''))
RETURNING ` + imagenColumns
	rows, _ := s.db.Query(ctx, q, n.ProductoID, n.URL, n.Orden, n.OwnerSub, n.Bytes, n.ContentType, n.SHA256)
	img, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Imagen])
	if err != nil {
		return Imagen{}, fmt.Errorf("insert imagen: %w", translate(err))
	}
	return img, nil
}

// GetImagen returns the image id if scope may see it, else ErrNotFound.
func (s *Store) GetImagen(ctx context.Context, id int32, scope Scope) (Imagen, error) {
	const q = `SELECT ` + imagenColumns + ` FROM producto_imagenes
WHERE id = $1 AND ($2::text IS NULL OR owner_sub = $2)`
	rows, _ := s.db.Query(ctx, q, id, scope.ownerArg())
	img, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Imagen])
	if err != nil {
		return Imagen{}, fmt.Errorf("get imagen %d: %w", id, translate(err))
	}
	return img, nil
}

// ImagenFilter selects a page of images, ordered by id.
type ImagenFilter struct {
	Scope      Scope
	ProductoID *int32 // only images of this product
	Unattached bool   // only images with no product
	AfterID    int32  // keyset: ids greater than this
	Limit      int
}

// ListImagenes returns a page of images in id order.
func (s *Store) ListImagenes(ctx context.Context, f ImagenFilter) ([]Imagen, error) {
	const q = `SELECT ` + imagenColumns + ` FROM producto_imagenes
WHERE id > $1
  AND ($2::text IS NULL OR owner_sub = $2)
  AND ($3::int IS NULL OR producto_id = $3)
  AND (NOT $4 OR producto_id IS NULL)
ORDER BY id
LIMIT $5`
	rows, _ := s.db.Query(ctx, q, f.AfterID, f.Scope.ownerArg(), f.ProductoID, f.Unattached, f.Limit)
	imgs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Imagen])
	if err != nil {
		return nil, fmt.Errorf("list imagenes: %w", translate(err))
	}
	return imgs, nil
}

// LockURL takes a transaction-scoped advisory lock on url. An upload holds
// it from before its file appears in the live folder until commit, so the
// janitor, which takes the same lock before calling a file an orphan, can
// tell "upload in flight" from "orphan" without guessing from timestamps.
func (s *Store) LockURL(ctx context.Context, url string) error {
	const q = `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`
	if _, err := s.db.Exec(ctx, q, url); err != nil {
		return fmt.Errorf("lock url: %w", translate(err))
	}
	return nil
}
