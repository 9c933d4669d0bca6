package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Balsamoa's catalogue (SPEC §4): the product reads of the Balsamoa routes
// answer in the shape of its view vista_catalogo_productos, which its shop
// and admin panel read. On a Balsamoa database the rows come from that view
// (read, never redefined: it is Balsamoa's); elsewhere from productos and
// producto_imagenes, with the fields only Balsamoa's tables hold left empty.

// Balsamoa says which of Balsamoa's own objects the database has; asked
// once at start-up.
type Balsamoa struct {
	Sesiones  bool // usuarios(id, activo, sesion_id): sessions are checked
	Catalogo  bool // vista_catalogo_productos with every catalogue column
	Variantes bool // variantes(producto_id, talle_id, color_id, stock): product writes take them
}

// catalogoColumns are the view's columns the catalogue reads.
var catalogoColumns = []string{"id", "nombre", "descripcion", "categoria_id", "categoria", "precio", "destacado", "activo",
	"fecha_creacion", "imagen_principal", "stock_total", "stock_por_talle", "colores_hex", "imagenes", "talle_ids", "color_ids"}

// DetectBalsamoa looks for Balsamoa's tables and view by their columns.
func (s *Store) DetectBalsamoa(ctx context.Context) (Balsamoa, error) {
	const q = `SELECT
  (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('usuarios') AND NOT attisdropped
     AND attname IN ('id', 'activo', 'sesion_id')) = 3,
  (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('vista_catalogo_productos') AND NOT attisdropped
     AND attname = ANY($1)) = cardinality($1),
  (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('variantes') AND NOT attisdropped
     AND attname IN ('producto_id', 'talle_id', 'color_id', 'stock')) = 4`
	var b Balsamoa
	if err := s.db.QueryRow(ctx, q, catalogoColumns).Scan(&b.Sesiones, &b.Catalogo, &b.Variantes); err != nil {
		return Balsamoa{}, fmt.Errorf("detect balsamoa: %w", translate(err))
	}
	return b, nil
}

// CatalogoProducto is a product in Balsamoa's catalogue shape. The list
// fields are JSON as the database built them (to_jsonb of the view's
// columns, whatever their SQL types), so they pass through unchanged.
type CatalogoProducto struct {
	ID              int32           `db:"id"`
	Nombre          string          `db:"nombre"`
	Descripcion     *string         `db:"descripcion"`
	CategoriaID     *int32          `db:"categoria_id"`
	Categoria       *string         `db:"categoria"`
	Precio          string          `db:"precio"` // numeric's exact text, as node-postgres returns it
	Destacado       bool            `db:"destacado"`
	Activo          bool            `db:"activo"`
	FechaCreacion   *time.Time      `db:"fecha_creacion"`
	ImagenPrincipal *string         `db:"imagen_principal"`
	StockTotal      int64           `db:"stock_total"`
	StockPorTalle   json.RawMessage `db:"stock_por_talle"` // [{talle, cantidad}]
	ColoresHex      json.RawMessage `db:"colores_hex"`     // ["#000000", …]
	Imagenes        json.RawMessage `db:"imagenes"`        // [{url, orden}]
	TalleIDs        json.RawMessage `db:"talle_ids"`       // [1, 2]
	ColorIDs        json.RawMessage `db:"color_ids"`       // [1, 2]
}

// CatalogoFilter selects a page of the catalogue, newest first (by id,
// which follows creation): ids below BeforeID when it is not 0.
type CatalogoFilter struct {
	OnlyActive     bool
	OnlyDestacados bool
	BeforeID       int32
	Limit          int
}

// catalogoVista reads Balsamoa's view; the casts make any column type it
// may use (json or jsonb, int[] or json, int or bigint) read the same.
const catalogoVista = `SELECT id, nombre, descripcion, categoria_id, categoria::text AS categoria, precio::text AS precio,
  COALESCE(destacado, false) AS destacado, COALESCE(activo, true) AS activo, fecha_creacion::timestamp AS fecha_creacion,
  imagen_principal::text AS imagen_principal, COALESCE(stock_total, 0)::bigint AS stock_total,
  COALESCE(to_jsonb(stock_por_talle), '[]') AS stock_por_talle, COALESCE(to_jsonb(colores_hex), '[]') AS colores_hex,
  COALESCE(to_jsonb(imagenes), '[]') AS imagenes, COALESCE(to_jsonb(talle_ids), '[]') AS talle_ids,
  COALESCE(to_jsonb(color_ids), '[]') AS color_ids
FROM vista_catalogo_productos`

// catalogoPropio builds the same shape from imagenes' own tables: images
// and first image filled, the rest empty.
const catalogoPropio = `SELECT * FROM (SELECT p.id, p.nombre, p.descripcion, p.categoria_id, NULL::text AS categoria, p.precio::text AS precio,
  COALESCE(p.destacado, false) AS destacado, COALESCE(p.activo, true) AS activo, p.fecha_creacion::timestamp AS fecha_creacion,
  (SELECT i.url::text FROM producto_imagenes i WHERE i.producto_id = p.id ORDER BY i.orden NULLS LAST, i.id LIMIT 1) AS imagen_principal,
  0::bigint AS stock_total, '[]'::jsonb AS stock_por_talle, '[]'::jsonb AS colores_hex,
  COALESCE((SELECT jsonb_agg(jsonb_build_object('url', i.url, 'orden', i.orden) ORDER BY i.orden NULLS LAST, i.id)
            FROM producto_imagenes i WHERE i.producto_id = p.id), '[]') AS imagenes,
  '[]'::jsonb AS talle_ids, '[]'::jsonb AS color_ids
FROM productos p) c`

// ListCatalogo returns a page of the catalogue; vista says whether the
// database has Balsamoa's view (Balsamoa.Catalogo).
func (s *Store) ListCatalogo(ctx context.Context, vista bool, f CatalogoFilter) ([]CatalogoProducto, error) {
	from := catalogoPropio
	if vista {
		from = catalogoVista
	}
	q := from + `
WHERE ($1 = 0 OR id < $1)
  AND (NOT $2 OR activo IS NOT FALSE)
  AND (NOT $3 OR destacado IS TRUE)
ORDER BY id DESC
LIMIT $4`
	rows, _ := s.db.Query(ctx, q, f.BeforeID, f.OnlyActive, f.OnlyDestacados, f.Limit)
	ps, err := pgx.CollectRows(rows, pgx.RowToStructByName[CatalogoProducto])
	if err != nil {
		return nil, fmt.Errorf("list catalogo: %w", translate(err))
	}
	return ps, nil
}

// GetCatalogo returns product id in the catalogue shape, or ErrNotFound;
// with onlyActive an inactive product is ErrNotFound too (the shop).
func (s *Store) GetCatalogo(ctx context.Context, vista bool, id int32, onlyActive bool) (CatalogoProducto, error) {
	from := catalogoPropio
	if vista {
		from = catalogoVista
	}
	q := from + `
WHERE id = $1 AND (NOT $2 OR activo IS NOT FALSE)`
	rows, _ := s.db.Query(ctx, q, id, onlyActive)
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[CatalogoProducto])
	if err != nil {
		return CatalogoProducto{}, fmt.Errorf("get catalogo %d: %w", id, translate(err))
	}
	return p, nil
}

// Variante is one of a product's stock variants in Balsamoa's variantes:
// a size, a colour and how many are in stock.
type Variante struct {
	TalleID int32
	ColorID int32
	Stock   int32
}

// ReplaceVariantes makes vs the variants of product pid, in one statement:
// rows of pairs no longer listed are deleted, listed ones inserted or their
// stock updated (an existing pair keeps its row and id, which Balsamoa's
// orders may reference). Pairs in vs must be unique. A size or colour that
// does not exist is ErrConflict (the foreign key).
func (s *Store) ReplaceVariantes(ctx context.Context, pid int32, vs []Variante) error {
	const q = `WITH v AS (
  SELECT * FROM unnest($2::int[], $3::int[], $4::int[]) AS v(talle_id, color_id, stock)
), gone AS (
  DELETE FROM variantes x WHERE x.producto_id = $1
    AND NOT EXISTS (SELECT 1 FROM v WHERE v.talle_id = x.talle_id AND v.color_id = x.color_id)
)
INSERT INTO variantes (producto_id, talle_id, color_id, stock)
SELECT $1, talle_id, color_id, stock FROM v
ON CONFLICT (producto_id, talle_id, color_id) DO UPDATE SET stock = EXCLUDED.stock`
	talles, colores, stock := make([]int32, len(vs)), make([]int32, len(vs)), make([]int32, len(vs))
	for i, v := range vs {
		talles[i], colores[i], stock[i] = v.TalleID, v.ColorID, v.Stock
	}
	if _, err := s.db.Exec(ctx, q, pid, talles, colores, stock); err != nil {
		return fmt.Errorf("replace variantes of %d: %w", pid, translate(err))
	}
	return nil
}
