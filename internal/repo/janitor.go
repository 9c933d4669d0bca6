package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The queries of the janitor. Each takes a whole batch (= ANY($1)), so a
// pass costs one round trip per batch of files or rows, never one per file.

// passLockKey is the advisory lock that makes janitor passes exclusive
// across processes ("imagenes janitor" as a 64-bit number).
const passLockKey int64 = 0x696d6167656e6573

// ErrLockLost: the connection holding the pass lock broke, so another
// process may now hold it.
var ErrLockLost = errors.New("janitor pass lock lost")

// PassLock is the session advisory lock of a janitor pass, held on one
// connection taken out of the pool for the whole pass.
type PassLock struct {
	conn *pgxpool.Conn
}

// PassLocks hands out the janitor's pass lock, each on its own connection.
type PassLocks struct {
	pool *pgxpool.Pool
}

// NewPassLocks returns the pass locks of the database behind pool.
func NewPassLocks(pool *pgxpool.Pool) *PassLocks { return &PassLocks{pool: pool} }

// TryLock takes the pass lock without waiting. ok is false when another
// process holds it.
func (l *PassLocks) TryLock(ctx context.Context) (lock *PassLock, ok bool, err error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("acquire connection for the pass lock: %w", translate(err))
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, passLockKey).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("pass lock: %w", translate(err))
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return &PassLock{conn: conn}, true, nil
}

// Check fails with ErrLockLost when the lock's connection no longer answers.
func (l *PassLock) Check(ctx context.Context) error {
	if err := l.conn.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrLockLost, err)
	}
	return nil
}

// Release unlocks and returns the connection. A connection that cannot
// unlock is closed, which releases the lock too.
func (l *PassLock) Release(ctx context.Context) {
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, passLockKey); err != nil {
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
}

// HasImagenes reports whether producto_imagenes holds any row.
func (s *Store) HasImagenes(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM producto_imagenes)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("has imagenes: %w", translate(err))
	}
	return ok, nil
}

// EntradasByID returns the trash entries among ids that exist.
func (s *Store) EntradasByID(ctx context.Context, ids []int64) ([]Entrada, error) {
	const q = `SELECT ` + entradaColumns + ` FROM imagenes_papelera WHERE id = ANY($1)`
	rows, _ := s.db.Query(ctx, q, ids)
	es, err := pgx.CollectRows(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return nil, fmt.Errorf("entradas by id: %w", translate(err))
	}
	return es, nil
}

// EntradaExists reports whether trash entry id exists.
func (s *Store) EntradaExists(ctx context.Context, id int64) (bool, error) {
	var ok bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM imagenes_papelera WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("entrada exists: %w", translate(err))
	}
	return ok, nil
}

// ListEntradas returns up to limit trash entries with ids above after, in
// id order.
func (s *Store) ListEntradas(ctx context.Context, after int64, limit int) ([]Entrada, error) {
	const q = `SELECT ` + entradaColumns + ` FROM imagenes_papelera WHERE id > $1 ORDER BY id LIMIT $2`
	rows, _ := s.db.Query(ctx, q, after, limit)
	es, err := pgx.CollectRows(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return nil, fmt.Errorf("list entradas: %w", translate(err))
	}
	return es, nil
}

// ImagenesByBase returns the image rows whose url ends in "/"+base for one
// of bases, or whose file name begins with one of stems: the rows a trash
// file without an entry may belong to (a stem is the beginning a shortened
// trash name kept, storage.ShortenedStem; the caller checks each row with
// storage.IsTrashNameOf). It scans the table, which is fine for what it
// serves (the rare trash file of an aborted delete), and is why it is not on
// any request path.
func (s *Store) ImagenesByBase(ctx context.Context, bases, stems []string) ([]Imagen, error) {
	const q = `SELECT ` + imagenColumns + ` FROM producto_imagenes
WHERE substring(url from '[^/]*$') = ANY($1) OR substring(url from '[^/]*$') ^@ ANY($2) ORDER BY id`
	if stems == nil {
		stems = []string{}
	}
	rows, _ := s.db.Query(ctx, q, bases, stems)
	imgs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Imagen])
	if err != nil {
		return nil, fmt.Errorf("imagenes by base: %w", translate(err))
	}
	return imgs, nil
}

// LockImagenesSkipLocked locks the rows ids FOR UPDATE and returns those it
// got: a row whose delete is in flight (moved its file, not committed yet)
// is locked by that delete and left out, so the janitor can tell "not yet
// committed" from "aborted" exactly.
func (s *Store) LockImagenesSkipLocked(ctx context.Context, ids []int32) ([]Imagen, error) {
	const q = `SELECT ` + imagenColumns + ` FROM producto_imagenes WHERE id = ANY($1) ORDER BY id FOR UPDATE SKIP LOCKED`
	rows, _ := s.db.Query(ctx, q, ids)
	imgs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Imagen])
	if err != nil {
		return nil, fmt.Errorf("lock imagenes: %w", translate(err))
	}
	return imgs, nil
}

// URLsInUse returns which of urls have an image row.
func (s *Store) URLsInUse(ctx context.Context, urls []string) (map[string]bool, error) {
	const q = `SELECT DISTINCT url FROM producto_imagenes WHERE url = ANY($1)`
	rows, _ := s.db.Query(ctx, q, urls)
	used, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("urls in use: %w", translate(err))
	}
	m := make(map[string]bool, len(used))
	for _, u := range used {
		m[u] = true
	}
	return m, nil
}

// TryLockURLs takes the transaction-scoped advisory lock of each url that
// nobody holds and returns those urls. An upload or restore in flight holds
// its url's lock until it commits, so its file is never taken for an orphan.
func (s *Store) TryLockURLs(ctx context.Context, urls []string) ([]string, error) {
	const q = `SELECT u FROM unnest($1::text[]) AS u WHERE pg_try_advisory_xact_lock(hashtextextended(u, 0))`
	rows, _ := s.db.Query(ctx, q, urls)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("try lock urls: %w", translate(err))
	}
	return got, nil
}

// Huerfana is a live file without a row, as the janitor found it.
type Huerfana struct {
	URL     string
	Bytes   int64
	ModTime time.Time
}

// InsertHuerfanas records trash entries for the orphan files that still
// have no row, returning them. Call it after TryLockURLs, in a later
// statement: its snapshot then sees every upload that committed before the
// locks were taken.
func (s *Store) InsertHuerfanas(ctx context.Context, hs []Huerfana, deletedBy string) ([]Entrada, error) {
	urls := make([]string, len(hs))
	bytes := make([]int64, len(hs))
	mtimes := make([]time.Time, len(hs))
	for i, h := range hs {
		urls[i], bytes[i], mtimes[i] = h.URL, h.Bytes, h.ModTime
	}
	const q = `INSERT INTO imagenes_papelera (url, bytes, creado_en, motivo, eliminado_por)
SELECT v.url, v.bytes, v.mtime, '` + MotivoHuerfana + `', NULLIF($4, '')
FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS v(url, bytes, mtime)
WHERE NOT EXISTS (SELECT 1 FROM producto_imagenes p WHERE p.url = v.url)
RETURNING ` + entradaColumns
	rows, _ := s.db.Query(ctx, q, urls, bytes, mtimes, deletedBy)
	es, err := pgx.CollectRows(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return nil, fmt.Errorf("insert huerfanas: %w", translate(err))
	}
	return es, nil
}

// InsertRecuperada records a trash entry for a trash file that has none (a
// crash between an orphan's move and its commit), deleted at the time its
// name carries, so retention counts from then. The entry takes id, the id
// the file's name carries, when the sequence handed it out already (an
// aborted transaction's) and no entry holds it: the file then keeps its
// name and needs no rename — on an object store a copy and a delete, which
// a crash could cut and leave two files for one entry. Otherwise (a name
// the service did not give, an id taken) it gets a fresh id.
func (s *Store) InsertRecuperada(ctx context.Context, id int64, url string, at time.Time, bytes int64, deletedBy string) (Entrada, error) {
	const q = `INSERT INTO imagenes_papelera (id, url, bytes, motivo, eliminado_por, eliminado_en)
SELECT CASE WHEN $5 <= COALESCE(pg_sequence_last_value(pg_get_serial_sequence('imagenes_papelera', 'id')), 0)
		AND NOT EXISTS (SELECT FROM imagenes_papelera WHERE id = $5) THEN $5
	ELSE nextval(pg_get_serial_sequence('imagenes_papelera', 'id')) END,
	$1, $2, '` + MotivoRecuperada + `', NULLIF($3, ''), $4
RETURNING ` + entradaColumns
	rows, _ := s.db.Query(ctx, q, url, bytes, deletedBy, at, id)
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return Entrada{}, fmt.Errorf("insert recuperada: %w", translate(err))
	}
	return e, nil
}

// LockPurgeable locks the entries among ids deleted before cutoff,
// skipping any a restore holds, and returns them: the purge removes their
// files while it holds them, then deletes only those whose file is gone
// (DeleteEntradas).
func (s *Store) LockPurgeable(ctx context.Context, ids []int64, cutoff time.Time) ([]Entrada, error) {
	const q = `SELECT ` + entradaColumns + ` FROM imagenes_papelera
WHERE id = ANY($1) AND eliminado_en < $2 ORDER BY id FOR UPDATE SKIP LOCKED`
	rows, _ := s.db.Query(ctx, q, ids, cutoff)
	es, err := pgx.CollectRows(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return nil, fmt.Errorf("lock purgeable entradas: %w", translate(err))
	}
	return es, nil
}

// DeleteEntradas deletes the entries ids and returns how many it deleted.
func (s *Store) DeleteEntradas(ctx context.Context, ids []int64) (int64, error) {
	const q = `DELETE FROM imagenes_papelera WHERE id = ANY($1)`
	tag, err := s.db.Exec(ctx, q, ids)
	if err != nil {
		return 0, fmt.Errorf("delete entradas: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}

// sinProductoWhere selects the unattached images the janitor may take:
// created before $1 (rows without a creation time, written by Balsamoa, are
// never taken: their age is unknown), and either external references or
// product images — under /recursos/imagenes/productos/ with an image
// extension, as storage.IsProductImage says. A row pointing at any other
// file under /recursos/ (a shop's logo, its CSS) is never a candidate.
const sinProductoWhere = `producto_id IS NULL AND created_at < $1
  AND (url NOT LIKE '/recursos/%' OR (url LIKE '/recursos/imagenes/productos/%' AND lower(url) ~ '\.(jpe?g|png|webp|gif)$'))`

// TrashSinProducto trashes up to limit unattached images created before
// cutoff (sinProductoWhere). It first takes, in key order, the locks of the
// urls of the rows it means to take, then deletes only rows under those
// locks (see lockURLsOfSQL). A row that a product adopts concurrently is
// rechecked by the DELETE and left alone.
func (s *Store) TrashSinProducto(ctx context.Context, cutoff time.Time, limit int, deletedBy string) ([]Entrada, error) {
	const lockQ = `SELECT s.k FROM (
  SELECT DISTINCT hashtextextended(url, 0) AS k FROM (
    SELECT url FROM producto_imagenes WHERE ` + sinProductoWhere + ` ORDER BY id LIMIT $2) c
  ORDER BY k
) s, LATERAL pg_advisory_xact_lock(s.k) AS l`
	rows, _ := s.db.Query(ctx, lockQ, cutoff, limit)
	keys, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("lock urls sin producto: %w", translate(err))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	rows, _ = s.db.Query(ctx, trashSinProductoSQL, cutoff, limit, keys, MotivoSinProducto, deletedBy)
	es, err := pgx.CollectRows(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return nil, fmt.Errorf("trash sin producto: %w", translate(err))
	}
	return es, nil
}

// ListSinProducto returns, in id order, up to limit rows with ids above
// after that TrashSinProducto would take (dry runs list them).
func (s *Store) ListSinProducto(ctx context.Context, cutoff time.Time, after int32, limit int) ([]LocalImagen, error) {
	const q = `SELECT id, url FROM producto_imagenes WHERE ` + sinProductoWhere + ` AND id > $2 ORDER BY id LIMIT $3`
	rows, _ := s.db.Query(ctx, q, cutoff, after, limit)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[LocalImagen])
	if err != nil {
		return nil, fmt.Errorf("list sin producto: %w", translate(err))
	}
	return out, nil
}

var trashSinProductoSQL = trashSQL(sinProductoWhere+` AND hashtextextended(url, 0) = ANY($3) AND id IN (
    SELECT id FROM producto_imagenes WHERE `+sinProductoWhere+` AND hashtextextended(url, 0) = ANY($3)
    ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`, 3)

// LocalImagen is the id and url of a row whose url is local.
type LocalImagen struct {
	ID  int32  `db:"id"`
	URL string `db:"url"`
}

// SinArchivoByBase locks and returns the trash entries recorded without a
// file whose url ends in base, or (stem not empty) whose file name begins
// with stem, newest first, skipping those a restore holds: a delete that
// found its file gone because an earlier, aborted delete had moved it into
// the trash under an entry that never committed. A stem is the beginning a
// shortened trash name kept (storage.ShortenedStem); the caller checks each
// entry with storage.IsTrashNameOf.
func (s *Store) SinArchivoByBase(ctx context.Context, base, stem string) ([]Entrada, error) {
	const q = `SELECT ` + entradaColumns + ` FROM imagenes_papelera
WHERE sin_archivo AND (substring(url from '[^/]*$') = $1 OR ($2 <> '' AND substring(url from '[^/]*$') ^@ $2))
ORDER BY id DESC FOR UPDATE SKIP LOCKED`
	rows, _ := s.db.Query(ctx, q, base, stem)
	es, err := pgx.CollectRows(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return nil, fmt.Errorf("sin archivo by base: %w", translate(err))
	}
	return es, nil
}

// EntradasByURL returns the trash entries with a file whose url is one of
// urls, newest first: the entries a live file without a row may be a copy
// of. It scans the trash table, which is fine for what it serves (orphans,
// rare by design), and is why it is not on any request path.
func (s *Store) EntradasByURL(ctx context.Context, urls []string) ([]Entrada, error) {
	const q = `SELECT ` + entradaColumns + ` FROM imagenes_papelera
WHERE url = ANY($1) AND NOT sin_archivo ORDER BY id DESC`
	rows, _ := s.db.Query(ctx, q, urls)
	es, err := pgx.CollectRows(rows, pgx.RowToStructByName[Entrada])
	if err != nil {
		return nil, fmt.Errorf("entradas by url: %w", translate(err))
	}
	return es, nil
}

// ClearSinArchivo records that entry id's file is in the trash again.
func (s *Store) ClearSinArchivo(ctx context.Context, id int64) error {
	const q = `UPDATE imagenes_papelera SET sin_archivo = false WHERE id = $1`
	if _, err := s.db.Exec(ctx, q, id); err != nil {
		return fmt.Errorf("clear sin archivo %d: %w", id, translate(err))
	}
	return nil
}

// LocalesByURL streams every row with a local url, in byte order of url (ties
// by id), to fn in chunks of up to n rows; fn may keep a chunk. It is one
// query: PostgreSQL sorts once (on disk past work_mem) and the rows come as
// fn takes them, so memory is a chunk, not the table. The janitor merges this
// order with the live walk's (storage.WalkLive) instead of asking about each
// file and stat'ing each row.
//
// It runs on the pass lock's own connection, idle during a step: a stream on
// a pool connection would hold it while waiting for the pass, and the pass
// waits for the pool (its moves and lookups), so a pool emptied by requests
// could hold both for good. fn returning an error stops the query, and the
// connection, with the lock, may be gone after that: the pass ends there.
func (l *PassLock) LocalesByURL(ctx context.Context, n int, fn func([]LocalImagen) error) error {
	const q = `SELECT id, url FROM producto_imagenes WHERE url LIKE '/recursos/%' ORDER BY url COLLATE "C", id`
	ctx, cancel := context.WithCancel(ctx)
	// Cancelled before Close when fn stops early: pgx then drops the
	// connection instead of reading the rest of the table.
	defer cancel()
	rows, err := l.conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("locales by url: %w", translate(err))
	}
	defer rows.Close()
	chunk := make([]LocalImagen, 0, n)
	for rows.Next() {
		var r LocalImagen
		if err := rows.Scan(&r.ID, &r.URL); err != nil {
			return fmt.Errorf("locales by url: %w", translate(err))
		}
		if chunk = append(chunk, r); len(chunk) == n {
			if err := fn(chunk); err != nil {
				cancel()
				return err
			}
			chunk = make([]LocalImagen, 0, n)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("locales by url: %w", translate(err))
	}
	if len(chunk) > 0 {
		return fn(chunk)
	}
	return nil
}
