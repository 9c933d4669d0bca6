package trash

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/imagenes/imagenes/internal/fault"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// The steps of a protocol transaction: each changes rows and moves their
// files together, so a caller cannot do one without the other.

// Errors of RestoreEntry, each wrapping repo.ErrConflict.
var (
	ErrURLTaken    = fmt.Errorf("url already used by a live image: %w", repo.ErrConflict)
	ErrProductGone = fmt.Errorf("the image's product no longer exists: %w", repo.ErrConflict)
	// ErrFileLost: the entry's file is neither in the trash nor live, so
	// restoring it would make a row without a file. The entry stays (the
	// janitor reports it and purges it after retention).
	ErrFileLost = fmt.Errorf("the entry's file is neither in the trash nor live: %w", repo.ErrConflict)
)

// ErrURLNotCanonical: a delete met a row whose url the storage refuses
// (storage.RelPath: a legacy "…//doble.png") but which names a live file
// when served (storage.Canonical). The delete is refused and nothing
// changes: the row's url must be fixed first. It wraps repo.ErrConflict.
var ErrURLNotCanonical = fmt.Errorf("the image's url is not canonical and names a live file: %w", repo.ErrConflict)

// DeleteImagenes deletes the images ids that scope may see, records each in
// the trash and moves its file there. The urls' locks are taken first (see
// repo.TrashImagenes), so of several rows sharing a url the last one
// deleted moves the file. Ids that do not exist or are not visible are
// absent from the result.
func (tx *Tx) DeleteImagenes(ctx context.Context, ids []int32, scope repo.Scope, motivo, deletedBy string) ([]repo.Entrada, error) {
	es, err := tx.store.TrashImagenes(ctx, ids, scope, motivo, deletedBy)
	if err != nil {
		return nil, err
	}
	return es, tx.trash(ctx, es)
}

// DeleteRequested deletes, for several callers at once, the images they
// asked for (repo.TrashRequested) and moves their files to the trash. It
// waits for no lock: the ids of rows another transaction holds come back in
// busy, untouched.
func (tx *Tx) DeleteRequested(ctx context.Context, rs []repo.DeleteRequest, motivo string) (es []repo.Entrada, busy []int32, err error) {
	es, busy, err = tx.store.TrashRequested(ctx, rs, motivo)
	if err != nil {
		return nil, nil, err
	}
	return es, busy, tx.trash(ctx, es)
}

// DeleteProducto locks product id, trashes every image of it (rows and
// files) and deletes it. Errors wrap repo.ErrNotFound when it does not exist.
func (tx *Tx) DeleteProducto(ctx context.Context, id int32, deletedBy string) ([]repo.Entrada, error) {
	if _, err := tx.store.LockProducto(ctx, id); err != nil {
		return nil, err
	}
	es, err := tx.store.TrashImagenesDeProducto(ctx, id, repo.MotivoProductoDelete, deletedBy)
	if err != nil {
		return nil, err
	}
	if err := tx.trash(ctx, es); err != nil {
		return nil, err
	}
	return es, tx.store.DeleteProducto(ctx, id)
}

// DeleteUnattached trashes (rows and files) up to limit images that no
// product adopted, created before cutoff.
func (tx *Tx) DeleteUnattached(ctx context.Context, cutoff time.Time, limit int, deletedBy string) ([]repo.Entrada, error) {
	es, err := tx.store.TrashSinProducto(ctx, cutoff, limit, deletedBy)
	if err != nil {
		return nil, err
	}
	return es, tx.trash(ctx, es)
}

// TrashOrphans gives each live file without a row a trash entry and moves
// it there. Take the urls' locks first (Rows().TryLockURLs): the entries are
// written only for urls that still have no row.
func (tx *Tx) TrashOrphans(ctx context.Context, hs []repo.Huerfana, deletedBy string) ([]repo.Entrada, error) {
	es, err := tx.store.InsertHuerfanas(ctx, hs, deletedBy)
	if err != nil {
		return nil, err
	}
	return es, tx.trash(ctx, es)
}

// TrashLost moves the still-live file of entry e into the trash under the
// entry's name: its rename was lost (a power cut after the commit), or a
// restore moved it out and never committed.
func (tx *Tx) TrashLost(ctx context.Context, e repo.Entrada) error {
	return tx.trash(ctx, []repo.Entrada{e})
}

// PublishUpload inserts the image row n and moves the staged file st to its
// url. The url's advisory lock is held from before the file appears in the
// live folder until the commit, so the janitor never mistakes an upload in
// flight for an orphan.
func (tx *Tx) PublishUpload(ctx context.Context, st *storage.Staged, n repo.NuevaImagen) (repo.Imagen, error) {
	if err := tx.store.LockURL(ctx, n.URL); err != nil {
		return repo.Imagen{}, err
	}
	img, err := tx.store.InsertImagen(ctx, n)
	if err != nil {
		return repo.Imagen{}, err
	}
	fault.Point("upload") // staged, row inserted, file not yet live
	return img, tx.publish(ctx, st, n.URL)
}

// RestoreEntry puts trash entry id back: the same image id, url, product and
// order, and its file back in place. Errors wrap repo.ErrNotFound (entry
// gone: purged or already restored), ErrURLTaken, ErrProductGone or
// ErrFileLost.
//
// Its locks come in the order every writer takes them — the product's row,
// then the url's lock, then the rows (the entry's, the image's) — so it
// never deadlocks with a product write (which locks the product, then the
// urls it names) nor with the janitor (the url, then the entry). Taken
// entry first, a restore of an image of product P held its url while its
// insert's foreign key check waited for P, which a PUT of P naming that url
// held while it waited for the url: PostgreSQL aborted one of the two (500).
func (tx *Tx) RestoreEntry(ctx context.Context, id int64) (repo.Imagen, error) {
	peek, err := tx.store.PeekEntrada(ctx, id)
	if err != nil {
		return repo.Imagen{}, err
	}
	if peek.ProductoID != nil {
		if err := tx.store.ShareProducto(ctx, *peek.ProductoID); errors.Is(err, repo.ErrNotFound) {
			return repo.Imagen{}, fmt.Errorf("restore %d: %w", id, ErrProductGone)
		} else if err != nil {
			return repo.Imagen{}, err
		}
	}
	if err := tx.store.LockURL(ctx, peek.URL); err != nil {
		return repo.Imagen{}, err
	}
	e, err := tx.store.TakeEntrada(ctx, id) // gone meanwhile: restored or purged
	if err != nil {
		return repo.Imagen{}, err
	}
	taken, err := tx.store.URLInUse(ctx, e.URL)
	if err != nil {
		return repo.Imagen{}, err
	}
	if taken {
		return repo.Imagen{}, fmt.Errorf("restore %d: %w", id, ErrURLTaken)
	}
	img, err := tx.store.RestoreImagen(ctx, e)
	if err != nil {
		if errors.Is(err, repo.ErrForeignKey) {
			return repo.Imagen{}, fmt.Errorf("restore %d: %w", id, ErrProductGone)
		}
		return repo.Imagen{}, err
	}
	return img, tx.untrash(ctx, e)
}

// PurgeEntries purges, for good, the entries among ids deleted before
// cutoff that no restore holds (they are locked first, SKIP LOCKED). Their
// files go together (the storage's RemoveTrashBatch: on a bucket one
// multi-object delete per 1 000, where one DELETE each made a purge of K
// entries cost K requests), then only the entries whose file is known gone
// are deleted: an entry is never deleted while its file may remain, or the
// file would be left with nothing naming it. An entry whose file's removal
// failed is kept, with the error in kept, for the next pass. A failure of
// the removal as a whole (a storage that cannot answer) is err, and no
// entry is deleted.
//
// Unlike every other move a removal cannot be undone, so it comes before
// the deletes: if the commit then fails, the entries come back without
// files and the next pass purges them (a file already gone counts as
// removed).
func (tx *Tx) PurgeEntries(ctx context.Context, ids []int64, cutoff time.Time) (purged []repo.Entrada, kept map[int64]error, err error) {
	es, err := tx.store.LockPurgeable(ctx, ids, cutoff)
	if err != nil || len(es) == 0 {
		return nil, nil, err
	}
	names := make([]string, 0, len(es))
	for _, e := range es {
		if !e.SinArchivo && storage.IsLocal(e.URL) {
			names = append(names, storage.TrashName(e.ID, e.EliminadoEn, e.URL))
		}
	}
	var failed map[string]error
	if len(names) > 0 {
		failed, err = tx.files.RemoveTrashBatch(ctx, names)
		if err != nil {
			return nil, nil, fmt.Errorf("purge %d entries: %w", len(es), err)
		}
	}
	gone := make([]int64, 0, len(es))
	for _, e := range es {
		ferr := failed[storage.TrashName(e.ID, e.EliminadoEn, e.URL)]
		if ferr != nil && !e.SinArchivo && storage.IsLocal(e.URL) {
			if kept == nil {
				kept = make(map[int64]error)
			}
			kept[e.ID] = ferr
			continue
		}
		gone = append(gone, e.ID)
		purged = append(purged, e)
	}
	if len(gone) == 0 {
		return nil, kept, nil
	}
	n, err := tx.store.DeleteEntradas(ctx, gone)
	if err != nil {
		return nil, nil, err
	}
	if n != int64(len(gone)) {
		// The entries are locked: nothing else can have deleted them.
		return nil, nil, fmt.Errorf("purge: deleted %d of %d locked entries", n, len(gone))
	}
	return purged, kept, nil
}

// PutBack moves trash file name back to the live path of url: the file of a
// delete that never committed, whose row is locked by the caller. No row
// changes: the row never stopped existing.
func (tx *Tx) PutBack(ctx context.Context, name, url string) error {
	if err := tx.files.MoveFromTrash(ctx, name, url); err != nil {
		return fmt.Errorf("put %s back to %q: %w", name, url, err)
	}
	tx.onUndo(func(ctx context.Context) error {
		_, err := tx.files.MoveToTrash(ctx, url, name)
		return err
	}, url)
	return nil
}

// AdoptTrashFile gives trash file name (entry id and time at in its name),
// which has no entry and no row to return to, a new entry for url (deleted
// at, size bytes), so that it can be restored and is purged after
// retention like any other. The entry takes the name's id when it can
// (repo.Store.InsertRecuperada), and the file keeps its name; otherwise the
// file is renamed to the entry's name.
func (tx *Tx) AdoptTrashFile(ctx context.Context, name string, id int64, url string, at time.Time, size int64, deletedBy string) (repo.Entrada, error) {
	e, err := tx.store.InsertRecuperada(ctx, id, url, at, size, deletedBy)
	if err != nil {
		return repo.Entrada{}, err
	}
	if to := storage.TrashName(e.ID, e.EliminadoEn, e.URL); to != name {
		return e, tx.rename(ctx, name, to)
	}
	return e, nil
}

// RejoinEntry gives trash file name to entry e, recorded without a file
// (sin_archivo) by a later delete of the same image: the file takes the
// entry's name and the entry becomes restorable.
func (tx *Tx) RejoinEntry(ctx context.Context, e repo.Entrada, name string) error {
	if err := tx.store.ClearSinArchivo(ctx, e.ID); err != nil {
		return err
	}
	return tx.rename(ctx, name, storage.TrashName(e.ID, e.EliminadoEn, e.URL))
}

// SettleLiveCopy moves the live file of entry e's url, which has no row
// (the caller holds the url's lock and checked), into the trash as e's
// file: the entry is the fact. When the trash already holds a copy of the
// same bytes — an object store's move cut between its copy and its delete,
// in a restore or in the undo of a refused one — the move finishes by
// removing the live copy. A different file there is (false, nil): left to
// the orphan rules. No row changes.
func (tx *Tx) SettleLiveCopy(ctx context.Context, e repo.Entrada) (bool, error) {
	if e.SinArchivo || !storage.IsLocal(e.URL) {
		return false, nil
	}
	name, url := storage.TrashName(e.ID, e.EliminadoEn, e.URL), e.URL
	moved, err := tx.files.MoveToTrash(ctx, url, name)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil || !moved {
		return false, err
	}
	tx.onUndo(func(ctx context.Context) error { return tx.files.MoveFromTrash(ctx, name, url) }, url)
	return true, nil
}

// rename renames trash file from to to.
func (tx *Tx) rename(ctx context.Context, from, to string) error {
	if err := tx.files.RenameTrash(ctx, from, to); err != nil {
		return fmt.Errorf("rename %s in trash: %w", from, err)
	}
	tx.onUndo(func(ctx context.Context) error { return tx.files.RenameTrash(ctx, to, from) }) // trash names: no url to lock
	return nil
}
