package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Producto is a row of Balsamoa's productos. Precio is numeric(10,2) read as
// its exact decimal text ("12.50"), as Balsamoa's node-postgres returns it,
// so no float ever rounds a price.
type Producto struct {
	ID            int32      `db:"id"`
	Nombre        string     `db:"nombre"`
	Descripcion   *string    `db:"descripcion"`
	Precio        string     `db:"precio"`
	CategoriaID   *int32     `db:"categoria_id"`
	Destacado     *bool      `db:"destacado"`
	Activo        *bool      `db:"activo"`
	FechaCreacion *time.Time `db:"fecha_creacion"`
}

// ProductoCampos are the writable fields of a product. A nil pointer leaves
// the field as it is on update and takes the column default on insert.
type ProductoCampos struct {
	Nombre      *string
	Descripcion *string
	Precio      *string // a decimal text checked by the caller
	CategoriaID *int32
	// ClearDescripcion / ClearCategoria set the column to NULL (JSON null).
	ClearDescripcion bool
	ClearCategoria   bool
	Destacado        *bool
	Activo           *bool
	// Variantes, when not nil, replaces the product's variants (Balsamoa's
	// variantes table; ReplaceVariantes), in the write's transaction.
	Variantes *[]Variante
}

const productoColumns = `id, nombre, descripcion, precio::text AS precio, categoria_id, destacado, activo, fecha_creacion`

// InsertProducto creates a product. Nombre and Precio must be set.
func (s *Store) InsertProducto(ctx context.Context, c ProductoCampos) (Producto, error) {
	const q = `INSERT INTO productos (nombre, descripcion, precio, categoria_id, destacado, activo)
VALUES ($1, $2, $3::numeric, $4, COALESCE($5, false), COALESCE($6, true))
RETURNING ` + productoColumns
	rows, _ := s.db.Query(ctx, q, c.Nombre, c.Descripcion, c.Precio, c.CategoriaID, c.Destacado, c.Activo)
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Producto])
	if err != nil {
		return Producto{}, fmt.Errorf("insert producto: %w", translate(err))
	}
	return p, nil
}

// ShareProducto locks product id FOR KEY SHARE until the transaction ends
// (ErrNotFound when it does not exist): the lock an image insert's foreign
// key check takes, taken up front by a restore so that it waits for a
// product write before holding any url lock the write may want.
func (s *Store) ShareProducto(ctx context.Context, id int32) error {
	const q = `SELECT id FROM productos WHERE id = $1 FOR KEY SHARE`
	var got int32
	if err := s.db.QueryRow(ctx, q, id).Scan(&got); err != nil {
		return fmt.Errorf("share producto %d: %w", id, translate(err))
	}
	return nil
}

// LockProducto returns product id locked FOR UPDATE until the transaction
// ends, or ErrNotFound. Every write to a product's image set takes this lock
// first, so concurrent PUTs and deletes of one product run one after the
// other, and no image can be attached to it meanwhile (an insert's foreign
// key check needs a KEY SHARE lock, which FOR UPDATE blocks).
func (s *Store) LockProducto(ctx context.Context, id int32) (Producto, error) {
	const q = `SELECT ` + productoColumns + ` FROM productos WHERE id = $1 FOR UPDATE`
	rows, _ := s.db.Query(ctx, q, id)
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Producto])
	if err != nil {
		return Producto{}, fmt.Errorf("lock producto %d: %w", id, translate(err))
	}
	return p, nil
}

// UpdateProducto changes the fields set in c and returns the row, or
// ErrNotFound.
func (s *Store) UpdateProducto(ctx context.Context, id int32, c ProductoCampos) (Producto, error) {
	const q = `UPDATE productos SET
  nombre       = COALESCE($2, nombre),
  descripcion  = CASE WHEN $3 THEN NULL ELSE COALESCE($4, descripcion) END,
  precio       = COALESCE($5::numeric, precio),
  categoria_id = CASE WHEN $6 THEN NULL ELSE COALESCE($7, categoria_id) END,
  destacado    = COALESCE($8, destacado),
  activo       = COALESCE($9, activo)
WHERE id = $1
RETURNING ` + productoColumns
	rows, _ := s.db.Query(ctx, q, id, c.Nombre, c.ClearDescripcion, c.Descripcion, c.Precio,
		c.ClearCategoria, c.CategoriaID, c.Destacado, c.Activo)
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Producto])
	if err != nil {
		return Producto{}, fmt.Errorf("update producto %d: %w", id, translate(err))
	}
	return p, nil
}

// DeleteProducto deletes the product row. Its images must have been trashed
// first in the same transaction; the ON DELETE CASCADE is only a backstop.
func (s *Store) DeleteProducto(ctx context.Context, id int32) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM productos WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete producto %d: %w", id, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete producto %d: %w", id, ErrNotFound)
	}
	return nil
}

// GetProducto returns product id, or ErrNotFound; with onlyActive an
// inactive product is ErrNotFound too (the public shop).
func (s *Store) GetProducto(ctx context.Context, id int32, onlyActive bool) (Producto, error) {
	const q = `SELECT ` + productoColumns + ` FROM productos
WHERE id = $1 AND (NOT $2 OR activo IS NOT FALSE)`
	rows, _ := s.db.Query(ctx, q, id, onlyActive)
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Producto])
	if err != nil {
		return Producto{}, fmt.Errorf("get producto %d: %w", id, translate(err))
	}
	return p, nil
}

// ImagenesDe returns the images of the products ids, each product's in
// orden, then id — one query for a whole page of products.
func (s *Store) ImagenesDe(ctx context.Context, ids []int32) ([]Imagen, error) {
	const q = `SELECT ` + imagenColumns + ` FROM producto_imagenes
WHERE producto_id = ANY($1)
ORDER BY producto_id, orden NULLS LAST, id`
	rows, _ := s.db.Query(ctx, q, ids)
	imgs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Imagen])
	if err != nil {
		return nil, fmt.Errorf("imagenes de productos: %w", translate(err))
	}
	return imgs, nil
}

// LockImagenesPorURL returns every image row whose url is in urls, locked FOR
// UPDATE: a product write decides from them which rows it adopts, keeps or
// refuses, and no concurrent write can change them before it commits.
func (s *Store) LockImagenesPorURL(ctx context.Context, urls []string) ([]Imagen, error) {
	const q = `SELECT ` + imagenColumns + ` FROM producto_imagenes
WHERE url = ANY($1)
ORDER BY id
FOR UPDATE`
	rows, _ := s.db.Query(ctx, q, urls)
	imgs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Imagen])
	if err != nil {
		return nil, fmt.Errorf("lock imagenes por url: %w", translate(err))
	}
	return imgs, nil
}

// AsignarImagenes attaches the images ids to product pid with the given
// orden (ids[i] gets orden[i]), in one statement.
func (s *Store) AsignarImagenes(ctx context.Context, pid int32, ids, orden []int32) error {
	const q = `UPDATE producto_imagenes AS i SET producto_id = $1, orden = v.orden
FROM unnest($2::int[], $3::int[]) AS v(id, orden)
WHERE i.id = v.id`
	if _, err := s.db.Exec(ctx, q, pid, ids, orden); err != nil {
		return fmt.Errorf("asignar imagenes: %w", translate(err))
	}
	return nil
}

// InsertExternas stores rows for external urls (not under /recursos/) of
// product pid, in one statement.
func (s *Store) InsertExternas(ctx context.Context, pid int32, urls []string, orden []int32, owner string) error {
	const q = `INSERT INTO producto_imagenes (producto_id, url, orden, owner_sub)
SELECT $1, v.url, v.orden, NULLIF($4, '') FROM unnest($2::text[], $3::int[]) AS v(url, orden)`
	if _, err := s.db.Exec(ctx, q, pid, urls, orden, owner); err != nil {
		return fmt.Errorf("insert externas: %w", translate(err))
	}
	return nil
}
