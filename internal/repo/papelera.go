package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Entrada is a trash entry: everything needed to put a deleted image back.
type Entrada struct {
	ID           int64      `db:"id"`
	ImagenID     *int32     `db:"imagen_id"`
	ProductoID   *int32     `db:"producto_id"`
	URL          string     `db:"url"`
	Orden        *int32     `db:"orden"`
	OwnerSub     *string    `db:"owner_sub"`
	Bytes        *int64     `db:"bytes"`
	ContentType  *string    `db:"content_type"`
	SHA256       *string    `db:"sha256"`
	CreadoEn     *time.Time `db:"creado_en"`
	Motivo       string     `db:"motivo"`
	EliminadoPor *string    `db:"eliminado_por"`
	EliminadoEn  time.Time  `db:"eliminado_en"`
	SinArchivo   bool       `db:"sin_archivo"`
}

// Reasons recorded in Entrada.Motivo.
const (
	MotivoImagen         = "imagen"          // DELETE of one image
	MotivoProductoPut    = "producto_put"    // dropped from a product's image set
	MotivoProductoDelete = "producto_delete" // its product was deleted
	MotivoHuerfana       = "huerfana"        // janitor: live file without a row
	MotivoSinProducto    = "sin_producto"    // janitor: unattached past its TTL
	MotivoColgante       = "colgante"        // janitor --repair-dangling: row without its file
	MotivoRecuperada     = "recuperada"      // janitor: trash file found without an entry
)

const entradaColumns = `id, imagen_id, producto_id, url, orden, owner_sub, bytes, content_type, sha256, creado_en, motivo, eliminado_por, eliminado_en, sin_archivo`

// scanEntrada reads a row of entradaColumns, in that order, into an
// Entrada: what pgx.RowToStructByName[Entrada] does, without building the
// name-to-field map and scan targets by reflection for every row (the
// deletes' hot path, trash, uses it). TestScanEntrada keeps the two equal.
func scanEntrada(row pgx.CollectableRow) (Entrada, error) {
	var e Entrada
	err := row.Scan(&e.ID, &e.ImagenID, &e.ProductoID, &e.URL, &e.Orden, &e.OwnerSub, &e.Bytes,
		&e.ContentType, &e.SHA256, &e.CreadoEn, &e.Motivo, &e.EliminadoPor, &e.EliminadoEn, &e.SinArchivo)
	return e, err
}

// TrashImagenes deletes the images ids that scope may see and records each in
// the trash, returning the entries. It first takes the advisory lock of
// every url those rows hold (lockURLsSQL), then deletes and records in one
// statement; both go out in one round trip. The DELETE takes the rows' locks
// until the transaction ends: a concurrent delete of the same id waits and
// then finds nothing. Ids that do not exist or are not visible are simply
// absent from the result.
func (s *Store) TrashImagenes(ctx context.Context, ids []int32, scope Scope, motivo, deletedBy string) ([]Entrada, error) {
	return s.trash(ctx, lockByIDsSQL, trashByIDsSQL, 3, append([]any{ids}, append(scope.scopeArgs(), motivo, deletedBy)...)...)
}

// TrashImagenesDeProducto is TrashImagenes for every image of product pid.
func (s *Store) TrashImagenesDeProducto(ctx context.Context, pid int32, motivo, deletedBy string) ([]Entrada, error) {
	return s.trash(ctx, lockByProductoSQL, trashByProductoSQL, 1, pid, motivo, deletedBy)
}

// The row selections of the deletes; their parameters come first, then
// motivo and deletedBy.
var (
	byIDsWhere      = `id = ANY($1) AND ` + scopeSQL(2)
	byProductoWhere = `producto_id = $1`
)

var (
	lockByIDsSQL       = lockURLsOfSQL(byIDsWhere)
	trashByIDsSQL      = trashSQL(byIDsWhere, 3)
	lockByProductoSQL  = lockURLsOfSQL(byProductoWhere)
	trashByProductoSQL = trashSQL(byProductoWhere, 1)
)

// lockURLsOfSQL takes, in key order, the transaction's advisory lock of the
// url of every row where selects. Whether a deleted row's file moves to the
// trash depends on the url's other rows (trashSQL); two deletes of rows
// sharing a url, each seeing the other's row, would both leave the file
// live. Under the url's lock the second delete's statement, which starts
// after the first committed, sees that row gone and moves the file. Every
// taker of several url locks takes them in key order (hashtextextended), and
// before any row lock, so they cannot deadlock.
func lockURLsOfSQL(where string) string {
	return `SELECT s.k FROM (
  SELECT DISTINCT hashtextextended(url, 0) AS k FROM producto_imagenes WHERE ` + where + ` ORDER BY k
) s, LATERAL pg_advisory_xact_lock(s.k) AS l`
}

// LockURLs takes the transaction's advisory lock of each url, waiting for
// them in key order (see lockURLsOfSQL).
func (s *Store) LockURLs(ctx context.Context, urls []string) error {
	const q = `SELECT s.k FROM (
  SELECT DISTINCT hashtextextended(u, 0) AS k FROM unnest($1::text[]) AS u ORDER BY k
) s, LATERAL pg_advisory_xact_lock(s.k) AS l`
	if _, err := s.db.Exec(ctx, q, urls); err != nil {
		return fmt.Errorf("lock urls: %w", translate(err))
	}
	return nil
}

// trashSQL builds the one statement that deletes the rows where selects and
// records them in the trash. An entry whose url is still used by a row that
// stays (legacy data can hold one url twice) is recorded as sin_archivo, so
// its file is neither moved nor later purged while a committed row
// references it. It is exact only under the urls' locks (lockURLsOfSQL).
func trashSQL(where string, n int) string {
	return `WITH d AS (
  DELETE FROM producto_imagenes
  WHERE ` + where + `
  RETURNING ` + imagenColumns + `
)
INSERT INTO imagenes_papelera (imagen_id, producto_id, url, orden, owner_sub, bytes, content_type, sha256, creado_en, motivo, eliminado_por, sin_archivo)
SELECT id, producto_id, url, orden, owner_sub, bytes, content_type, sha256, created_at, $` + fmt.Sprint(n+1) + `, NULLIF($` + fmt.Sprint(n+2) + `, ''),
  url NOT LIKE '/recursos/%' OR EXISTS (SELECT 1 FROM producto_imagenes o WHERE o.url = d.url AND o.id NOT IN (SELECT id FROM d))
FROM d
RETURNING ` + entradaColumns
}

// DeleteRequest is one caller's delete of one image, as its own request
// would make it.
type DeleteRequest struct {
	ID        int32
	Scope     Scope
	DeletedBy string
}

// TrashRequested is TrashImagenes for several callers at once (coalesced
// single deletes): each image is deleted once, on behalf of the first
// request for it, in order, whose scope may see it; its entry records that
// caller as eliminado_por.
//
// It waits for no lock: a batch must not be hostage to one member (a row
// held by a long product edit stalled every delete of its batch, issue 23).
// It tries the advisory lock of each requested row's url
// (pg_try_advisory_xact_lock), then locks the rows whose url it holds, FOR
// UPDATE SKIP LOCKED, and deletes only those. The ids of rows it could not
// lock either way (another transaction holds the row or its url) come back
// in busy, untouched, for their callers to delete on their own, waiting
// under their own deadlines. An id in neither result has no row (or none
// the requests' scopes may see). The locks and the delete are two
// statements sent in one round trip: the delete's snapshot, taken after the
// locks, sees every delete of a shared url that committed before them
// (lockURLsOfSQL says why that matters).
func (s *Store) TrashRequested(ctx context.Context, rs []DeleteRequest, motivo string) (es []Entrada, busy []int32, err error) {
	ids := make([]int32, len(rs))
	alls := make([]bool, len(rs))
	owners := make([]*string, len(rs))
	by := make([]string, len(rs))
	for i, r := range rs {
		ids[i], alls[i], by[i] = r.ID, r.Scope.all, r.DeletedBy
		if r.Scope.Owner != "" { // else NULL: owner_sub = NULL is never true
			owners[i] = &r.Scope.Owner
		}
	}
	b := &pgx.Batch{}
	b.Queue(tryLockRequestedSQL, ids)
	b.Queue(trashRequestedSQL, ids, alls, owners, by, motivo)
	br := s.db.SendBatch(ctx, b)
	var lote string
	if err := br.QueryRow().Scan(&lote, &busy); err != nil {
		_ = br.Close()
		return nil, nil, fmt.Errorf("lock requested imagenes: %w", translate(err))
	}
	rows, _ := br.Query()
	es, err = pgx.CollectRows(rows, scanEntrada)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("trash requested imagenes: %w", translate(err))
	}
	return es, busy, nil
}

// tryLockRequestedSQL takes, without waiting, the url lock of each row of
// ids, then the row lock of those whose url it got. The rows it holds are
// left for trashRequestedSQL in the transaction-local setting
// imagenes.lote (one round trip: the delete cannot wait for this answer);
// it returns that setting and the ids of the rows it could not lock. Try-locks never wait,
// so the key order that keeps waiting takers from deadlocking is not needed
// here.
const tryLockRequestedSQL = `WITH keys AS MATERIALIZED (
  SELECT DISTINCT hashtextextended(url, 0) AS k FROM producto_imagenes WHERE id = ANY($1)
), taken AS MATERIALIZED (
  SELECT k FROM keys WHERE pg_try_advisory_xact_lock(k)
), held AS MATERIALIZED (
  SELECT id FROM producto_imagenes
  WHERE id = ANY($1) AND hashtextextended(url, 0) IN (SELECT k FROM taken)
  FOR UPDATE SKIP LOCKED
)
SELECT set_config('imagenes.lote', (SELECT COALESCE(array_agg(id), '{}')::text FROM held), true),
  ARRAY(SELECT id FROM producto_imagenes WHERE id = ANY($1) AND id NOT IN (SELECT id FROM held))`

// trashRequestedSQL: each row tryLockRequestedSQL holds goes to the first
// request (by position) that may see it, so a repeated id is deleted once
// and the others find nothing.
const trashRequestedSQL = `WITH r AS (
  SELECT * FROM unnest($1::int[], $2::bool[], $3::text[], $4::text[]) WITH ORDINALITY AS r(id, every, owner, por, ord)
), pick AS (
  SELECT DISTINCT ON (p.id) p.id, r.por FROM producto_imagenes p JOIN r ON p.id = r.id AND (r.every OR p.owner_sub = r.owner)
  WHERE p.id = ANY(current_setting('imagenes.lote', true)::int[])
  ORDER BY p.id, r.ord
), d AS (
  DELETE FROM producto_imagenes p USING pick WHERE p.id = pick.id
  RETURNING p.id, p.producto_id, p.url, p.orden, p.owner_sub, p.bytes, p.content_type, p.sha256, p.created_at, pick.por
)
INSERT INTO imagenes_papelera (imagen_id, producto_id, url, orden, owner_sub, bytes, content_type, sha256, creado_en, motivo, eliminado_por, sin_archivo)
SELECT id, producto_id, url, orden, owner_sub, bytes, content_type, sha256, created_at, $5, NULLIF(por, ''),
  url NOT LIKE '/recursos/%' OR EXISTS (SELECT 1 FROM producto_imagenes o WHERE o.url = d.url AND o.id NOT IN (SELECT id FROM d))
FROM d
RETURNING ` + entradaColumns

// trash runs lockQ (with the selection's n parameters) then q, in one
// pipeline: each statement has its own snapshot, so q sees every delete
// that committed while lockQ waited.
func (s *Store) trash(ctx context.Context, lockQ, q string, n int, args ...any) ([]Entrada, error) {
	b := &pgx.Batch{}
	b.Queue(lockQ, args[:n]...)
	b.Queue(q, args...)
	br := s.db.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, fmt.Errorf("lock urls of imagenes: %w", translate(err))
	}
	rows, _ := br.Query()
	es, err := pgx.CollectRows(rows, scanEntrada)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("trash imagenes: %w", translate(err))
	}
	return es, nil
}

// MarkSinArchivo records that entries ids have no file in the trash (they
// were already gone when their rows were deleted).
func (s *Store) MarkSinArchivo(ctx context.Context, ids ...int64) error {
	const q = `UPDATE imagenes_papelera SET sin_archivo = true WHERE id = ANY($1)`
	if _, err := s.db.Exec(ctx, q, ids); err != nil {
		return fmt.Errorf("mark %d entries sin archivo: %w", len(ids), translate(err))
	}
	return nil
}

// PapeleraCursor is a keyset position in the trash listing (newest first).
type PapeleraCursor struct {
	EliminadoEn time.Time
	ID          int64
}

// ListPapelera returns up to limit entries older than after (nil: from the
// newest), newest first.
func (s *Store) ListPapelera(ctx context.Context, after *PapeleraCursor, limit int) ([]Entrada, error) {
	const q = `SELECT ` + entradaColumns + ` FROM imagenes_papelera
WHERE ($1::timestamptz IS NULL OR (eliminado_en, id) < ($1, $2))
ORDER BY eliminado_en DESC, id DESC
LIMIT $3`
	var t *time.Time
	var id int64
	if after != nil {
		t, id = &after.EliminadoEn, after.ID
	}
	rows, _ := s.db.Query(ctx, q, t, id, limit)
	es, err := pgx.CollectRows(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return nil, fmt.Errorf("list papelera: %w", translate(err))
	}
	return es, nil
}

// PeekEntrada returns trash entry id without locking it (ErrNotFound when
// there is none): a restore reads its product and url first, to take their
// locks before the entry's. An entry's product and url never change.
func (s *Store) PeekEntrada(ctx context.Context, id int64) (Entrada, error) {
	const q = `SELECT ` + entradaColumns + ` FROM imagenes_papelera WHERE id = $1`
	rows, _ := s.db.Query(ctx, q, id)
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return Entrada{}, fmt.Errorf("peek entrada %d: %w", id, translate(err))
	}
	return e, nil
}

// TakeEntrada deletes trash entry id and returns it, for a restore. The
// DELETE locks the entry, so of two concurrent restores one gets it and the
// other ErrNotFound.
func (s *Store) TakeEntrada(ctx context.Context, id int64) (Entrada, error) {
	const q = `DELETE FROM imagenes_papelera WHERE id = $1 RETURNING ` + entradaColumns
	rows, _ := s.db.Query(ctx, q, id)
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return Entrada{}, fmt.Errorf("take entrada %d: %w", id, translate(err))
	}
	return e, nil
}

// LockEntradasConArchivo locks and returns the entries of url other than
// except whose file is in the trash (not sin_archivo), newest first: where
// a restore of a sin_archivo entry finds the url's file (see
// trash.Tx.RestoreEntry). A purge skips the entries locked here; one it
// holds is waited for and then absent. Call it under the url's lock.
func (s *Store) LockEntradasConArchivo(ctx context.Context, url string, except int64) ([]Entrada, error) {
	const q = `SELECT ` + entradaColumns + ` FROM imagenes_papelera
WHERE url = $1 AND id <> $2 AND NOT sin_archivo ORDER BY eliminado_en DESC, id DESC FOR UPDATE`
	rows, _ := s.db.Query(ctx, q, url, except)
	es, err := pgx.CollectRows(rows, scanEntrada)
	if err != nil {
		return nil, fmt.Errorf("lock entradas con archivo of %q: %w", url, translate(err))
	}
	return es, nil
}

// URLInUse reports whether a live image row has url.
func (s *Store) URLInUse(ctx context.Context, url string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM producto_imagenes WHERE url = $1)`
	var used bool
	if err := s.db.QueryRow(ctx, q, url).Scan(&used); err != nil {
		return false, fmt.Errorf("url in use: %w", translate(err))
	}
	return used, nil
}

// RestoreImagen inserts the row that entry e describes, with its old id when
// it had one. A product that no longer exists is ErrForeignKey.
func (s *Store) RestoreImagen(ctx context.Context, e Entrada) (Imagen, error) {
	const q = `INSERT INTO producto_imagenes (id, producto_id, url, orden, owner_sub, bytes, content_type, sha256, created_at)
VALUES (COALESCE($1, nextval(pg_get_serial_sequence('producto_imagenes', 'id'))::int), $2, $3, COALESCE($4, 1), $5, $6, $7, $8, COALESCE($9, now()))
RETURNING ` + imagenColumns
	rows, _ := s.db.Query(ctx, q, e.ImagenID, e.ProductoID, e.URL, e.Orden, e.OwnerSub, e.Bytes, e.ContentType, e.SHA256, e.CreadoEn)
	img, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Imagen])
	if err != nil {
		return Imagen{}, fmt.Errorf("restore imagen: %w", translate(err))
	}
	return img, nil
}

// TrashStats is the size and age of the trash, for metrics.
type TrashStats struct {
	Entries int64
	Bytes   int64      // of the entries that hold a file
	Oldest  *time.Time // nil when empty
}

// GetTrashStats reads TrashStats in one query (the eliminado_en index makes
// min() cheap; count and sum scan the trash, which retention keeps small).
func (s *Store) GetTrashStats(ctx context.Context) (TrashStats, error) {
	var st TrashStats
	const q = `SELECT count(*), COALESCE(sum(bytes) FILTER (WHERE NOT sin_archivo), 0), min(eliminado_en) FROM imagenes_papelera`
	if err := s.db.QueryRow(ctx, q).Scan(&st.Entries, &st.Bytes, &st.Oldest); err != nil {
		return TrashStats{}, fmt.Errorf("trash stats: %w", translate(err))
	}
	return st, nil
}
