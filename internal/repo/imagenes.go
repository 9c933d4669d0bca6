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

// Scope limits which images a caller may see and delete: All (admins, the
// janitor, product writes), or only the images uploaded by Owner. It fails
// closed: the zero Scope, or an Owner lost on the way (""), matches
// nothing, so a bug that drops the caller's identity hides every image
// instead of exposing them all.
type Scope struct {
	Owner string
	all   bool
}

// All is the explicit scope that sees every image.
var All = Scope{all: true}

// Allows reports whether the scope may see an image owned by owner: the
// same rule as scopeSQL (the zero scope allows nothing).
func (s Scope) Allows(owner *string) bool {
	return s.all || (s.Owner != "" && owner != nil && *owner == s.Owner)
}

// scopeSQL is the filter of a Scope over producto_imagenes, with its two
// parameters at $n and $n+1 (scopeArgs).
func scopeSQL(n int) string {
	return fmt.Sprintf("($%d::bool OR owner_sub = $%d::text)", n, n+1)
}

// scopeArgs are scopeSQL's parameters: all, and the owner (NULL when
// empty, and owner_sub = NULL is never true).
func (s Scope) scopeArgs() []any {
	if s.Owner == "" {
		return []any{s.all, nil}
	}
	return []any{s.all, s.Owner}
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
	q := `SELECT ` + imagenColumns + ` FROM producto_imagenes
WHERE id = $1 AND ` + scopeSQL(2)
	rows, _ := s.db.Query(ctx, q, append([]any{id}, scope.scopeArgs()...)...)
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
	q := `SELECT ` + imagenColumns + ` FROM producto_imagenes
WHERE id > $1
  AND ($2::int IS NULL OR producto_id = $2)
  AND (NOT $3 OR producto_id IS NULL)
  AND ` + scopeSQL(5) + `
ORDER BY id
LIMIT $4`
	args := append([]any{f.AfterID, f.ProductoID, f.Unattached, f.Limit}, f.Scope.scopeArgs()...)
	rows, _ := s.db.Query(ctx, q, args...)
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
