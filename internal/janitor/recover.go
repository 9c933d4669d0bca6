package janitor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// trashFile is a file in the trash folder, its name parsed.
type trashFile struct {
	name string
	id   int64 // the trash entry id in its name
	at   time.Time
	base string // the file name part, as written (maybe shortened)
	stem string // when it may be shortened, the beginning it kept (storage.ShortenedStem)
	size int64
	mod  time.Time // its mtime, or on a bucket its Last-Modified: when it was copied there
}

// recoverTrash walks the trash folder in batches and matches each file to
// its entry. A file without an entry is the file of a transaction that
// never committed: a delete (its row still exists → put the file back) or
// an orphan move (no row → give the file the entry it lost).
func (p *pass) recoverTrash(ctx context.Context) error {
	batch := make([]trashFile, 0, p.cfg.BatchSize)
	flush := func() error {
		err := p.recoverBatch(ctx, batch)
		batch = batch[:0]
		return err
	}
	err := p.files.WalkTrash(ctx, func(name string, info fs.FileInfo) error {
		p.rep.FilesScanned++
		p.bar.add(1)
		id, at, base, ok := storage.ParseTrashName(name)
		if !ok {
			if name != storage.MarkerName {
				p.log.Warn("janitor: file in the trash with a name it did not give; left alone", zap.String("name", name))
			}
			return nil
		}
		stem, _ := storage.ShortenedStem(name)
		batch = append(batch, trashFile{name: name, id: id, at: at, base: base, stem: stem, size: info.Size(), mod: info.ModTime()})
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func (p *pass) recoverBatch(ctx context.Context, batch []trashFile) error {
	if len(batch) == 0 {
		return nil
	}
	p.at("recover-batch", batch[0].name)
	ids := make([]int64, len(batch))
	for i, f := range batch {
		ids[i] = f.id
	}
	entries, err := p.store.EntradasByID(ctx, ids)
	if err != nil {
		return err
	}
	// A file is its entry's when the entry's trash name is the file's, not
	// just its id: a promoted standby's sequence hands out again the ids of
	// deletes the old primary committed and never sent it, and the file of
	// such a lost delete must still be put back under its row.
	known := make(map[string]bool, len(entries))
	for _, e := range entries {
		known[storage.TrashName(e.ID, e.EliminadoEn, e.URL)] = true
	}
	var lost []trashFile
	var bases, stems []string
	for _, f := range batch {
		if !known[f.name] {
			lost = append(lost, f)
			bases = append(bases, f.base)
			if f.stem != "" {
				stems = append(stems, f.stem)
			}
		}
	}
	if len(lost) == 0 {
		return nil
	}
	// The rows are read before each file's entry is checked again inside
	// its transaction: a delete that commits in between is then seen by
	// that second check, so a committed delete is never taken for a lost one.
	rows, err := p.store.ImagenesByBase(ctx, bases, stems)
	if err != nil {
		return err
	}
	byBase := map[string][]repo.Imagen{}
	for _, r := range rows {
		b := path.Base(r.URL)
		byBase[b] = append(byBase[b], r)
	}
	for _, f := range lost {
		if err := p.recoverFile(ctx, f, candidatesOf(f, rows, byBase)); err != nil {
			return err
		}
	}
	return nil
}

// candidatesOf returns the rows, among those read for a batch, whose trash
// name f's name can be: those whose file name is f's, or, for a name
// shortened because the file name was too long for it, those whose file
// name shortens to f's (the rows read by its stem may begin alike and
// differ further on, which the name's hash tells apart).
func candidatesOf(f trashFile, rows []repo.Imagen, byBase map[string][]repo.Imagen) []repo.Imagen {
	if f.stem == "" {
		return byBase[f.base]
	}
	var out []repo.Imagen
	for _, r := range rows {
		if storage.IsTrashNameOf(f.name, r.URL) {
			out = append(out, r)
		}
	}
	return out
}

// recoverFile settles one trash file without an entry, in one transaction.
// A file gone since it was listed was moved by a transaction that committed
// (a restore, then maybe a delete under a new name): that is settled, and the
// pass goes on.
func (p *pass) recoverFile(ctx context.Context, f trashFile, candidates []repo.Imagen) error {
	err := p.inTx(ctx, func(tx *trash.Tx) error {
		if len(candidates) > 0 {
			ids := make([]int32, len(candidates))
			for i, c := range candidates {
				ids[i] = c.ID
			}
			locked, err := tx.Rows().LockImagenesSkipLocked(ctx, ids)
			if err != nil {
				return err
			}
			if len(locked) < len(candidates) {
				// A row it may belong to is locked (or gone since read): its
				// delete is in flight and will commit or put the file back
				// itself. Settling the file beside it — adopting it, or
				// putting it back for another row of the same name — could
				// take the file that transaction is about to commit or undo:
				// it is left for a later pass, once no row it may be is held.
				p.rep.InFlight++
				return nil
			}
			if again, err := entryHolds(ctx, tx, f); err != nil || again {
				return err // committed meanwhile: nothing to recover
			}
			for _, row := range locked {
				if row.Bytes != nil && *row.Bytes != f.size {
					continue
				}
				// An error is not a no: a row whose live file cannot be
				// looked at may be the one this file belongs to, and going on
				// would adopt it while the row holds its url. The pass stops.
				live, err := p.files.LiveExists(ctx, row.URL)
				if err != nil {
					return fmt.Errorf("live file of image %d: %w", row.ID, err)
				}
				if live {
					if settled, err := p.finishPutBack(ctx, tx, f, row); err != nil || settled {
						return err
					}
					continue
				}
				// The row is ours (locked), its file is missing, and no
				// entry says its delete committed: the delete aborted.
				p.rep.Recovered++
				p.list(kindRecovered, Item{URL: row.URL, ImagenID: row.ID, TrashName: f.name, Bytes: f.size})
				p.info("janitor: putting back the file of a delete that never committed",
					zap.Int32("imagen_id", row.ID), zap.String("url", row.URL), zap.String("trash_name", f.name))
				if p.cfg.DryRun {
					p.dryMoved[row.URL] = true
					return nil
				}
				return tx.PutBack(ctx, f.name, row.URL)
			}
		} else if again, err := entryHolds(ctx, tx, f); err != nil || again {
			return err
		}
		if still, err := p.files.TrashExists(ctx, f.name); err != nil || !still {
			return err // moved out since listed: settled
		}
		if settled, err := p.rejoin(ctx, tx, f); err != nil || settled {
			return err
		}
		return p.adopt(ctx, tx, f, candidates)
	})
	if errors.Is(err, storage.ErrNotExist) {
		if still, serr := p.files.TrashExists(ctx, f.name); serr == nil && !still {
			p.info("janitor: trash file gone since listed; a committed transaction moved it", zap.String("trash_name", f.name))
			return nil
		}
	}
	return err
}

// entryHolds reports whether an entry holds trash file f: the entry of f's
// id whose trash name is f's (see recoverBatch: an entry of that id for
// another file is a later delete given a lost one's id again).
func entryHolds(ctx context.Context, tx *trash.Tx, f trashFile) (bool, error) {
	es, err := tx.Rows().EntradasByID(ctx, []int64{f.id})
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if storage.TrashName(e.ID, e.EliminadoEn, e.URL) == f.name {
			return true, nil
		}
	}
	return false, nil
}

// finishPutBack settles a trash file that is a copy of its row's live file:
// on an object store a move is a copy then a delete, and a crash between
// the two inside a delete (or inside the undo of a refused restore) leaves
// the object under both keys, with the row and no entry. The row is locked
// and no entry says the delete committed, so the live object is the one
// that counts: putting the trash copy back finishes the move (the backend
// only deletes the trash copy when both hold the same bytes). On a folder a
// rename never leaves both, and a different file there is fs.ErrExist:
// then it is not settled here. A dry run asks the storage whether the two
// are the same bytes instead of moving.
//
// A copy younger than the orphan grace is left for a later pass (counted
// in flight): the dead process may have sent the delete of the live
// object, and the storage may carry it out after the process died —
// queued behind others, or well into it when the connection closed (a
// loaded MinIO does). Settled first, the object would then be gone from
// both keys. No lock can say whether such a request is still on its way;
// the grace is the time allowed for one, as for an upload's object.
func (p *pass) finishPutBack(ctx context.Context, tx *trash.Tx, f trashFile, row repo.Imagen) (bool, error) {
	if f.mod.After(p.now.Add(-p.cfg.OrphanGrace)) {
		same, err := p.sameCopy(ctx, f.name, row.URL)
		if err != nil || !same {
			return false, err
		}
		p.rep.InFlight++
		p.info("janitor: a move cut between its copy and its delete, the copy younger than the orphan grace; left for a later pass",
			zap.Int32("imagen_id", row.ID), zap.String("url", row.URL), zap.String("trash_name", f.name), zap.Time("copied_at", f.mod))
		return true, nil
	}
	if p.cfg.DryRun {
		if same, err := p.sameCopy(ctx, f.name, row.URL); err != nil || !same {
			return false, err
		}
	} else {
		err := tx.PutBack(ctx, f.name, row.URL)
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	p.rep.Recovered++
	p.list(kindRecovered, Item{URL: row.URL, ImagenID: row.ID, TrashName: f.name, Bytes: f.size})
	p.info("janitor: finished a move cut between its copy and its delete (the row's live file stays)",
		zap.Int32("imagen_id", row.ID), zap.String("url", row.URL), zap.String("trash_name", f.name))
	return true, nil
}

// sameCopy reports whether trash file name is a copy of url's live file; a
// folder, whose renames never leave both, says no.
func (p *pass) sameCopy(ctx context.Context, name, url string) (bool, error) {
	if !p.files.Capabilities().CopyMoves {
		return false, nil
	}
	return p.files.SameObject(ctx, name, url)
}

// uuidName is the file name NewImageURL gives, whose folder follows from it.
var uuidName = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[a-z0-9]+$`)

// adopt gives a trash file without an entry and without a row to return to
// a new entry, renaming it to the entry's name, so that it can be restored
// and is purged after retention like any other.
func (p *pass) adopt(ctx context.Context, tx *trash.Tx, f trashFile, candidates []repo.Imagen) error {
	url := storage.LivePrefix + "imagenes/productos/recuperadas/" + f.base
	switch {
	case len(candidates) > 0:
		url = candidates[0].URL // restoring it will say the url is taken
	case uuidName.MatchString(f.base):
		url = storage.LivePrefix + "imagenes/productos/" + f.base[:2] + "/" + f.base
	case len(url) > 255:
		// A long file name (a shortened trash name's is up to 242 bytes)
		// does not fit behind that folder; right under /recursos/ it does,
		// and then the entry's trash name is the file's own, so the file
		// keeps its name (a rename cut in two on a bucket would leave a
		// second copy under the entry's id).
		url = storage.LivePrefix + f.base
	}
	if _, err := storage.RelPath(url); err != nil || len(url) > 255 {
		p.log.Warn("janitor: trash file without an entry and no usable url; left alone", zap.String("name", f.name))
		return nil
	}
	p.rep.Adopted++
	p.list(kindAdopted, Item{URL: url, TrashName: f.name, Bytes: f.size})
	p.info("janitor: trash file without an entry gets one", zap.String("trash_name", f.name), zap.String("url", url))
	if p.cfg.DryRun {
		return nil
	}
	_, err := tx.AdoptTrashFile(ctx, f.name, f.id, url, f.at, f.size, deletedBy)
	return err
}

// rejoin gives a trash file without an entry to the entry of a later delete
// of the same image that found the file gone (sin_archivo): a crash had left
// the earlier delete's move uncommitted. The file takes that entry's name and
// the entry becomes restorable, so one entry holds it, never a second.
func (p *pass) rejoin(ctx context.Context, tx *trash.Tx, f trashFile) (bool, error) {
	// Read by a shortened name's stem, entries of other urls that begin
	// alike come too (and stay locked until this transaction ends): only the
	// ones whose trash name f's can be are taken.
	es, err := tx.Rows().SinArchivoByBase(ctx, f.base, f.stem)
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if !storage.IsLocal(e.URL) || !storage.IsTrashNameOf(f.name, e.URL) || (e.Bytes != nil && *e.Bytes != f.size) {
			continue
		}
		p.rep.Recovered++
		p.list(kindRecovered, Item{URL: e.URL, TrashName: f.name, Bytes: f.size})
		p.info("janitor: trash file of an aborted delete joins the entry of the later delete",
			zap.Int64("papelera_id", e.ID), zap.String("trash_name", f.name))
		if p.cfg.DryRun {
			return true, nil
		}
		return true, tx.RejoinEntry(ctx, e, f.name)
	}
	return false, nil
}
