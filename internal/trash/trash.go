// Package trash is the one home of the delete protocol (SPEC §5): database
// rows change inside one PostgreSQL transaction, and the files follow them by
// renames done before the commit and undone if the commit does not happen.
// The catalogue's use cases (image and product deletes, uploads, restores,
// product writes: internal/catalog) and the janitor all go through
// Service.Run, so the protocol is written once.
//
// A Tx offers only whole steps: each method that creates or deletes an image
// row or a trash entry also moves its file (DeleteImagenes, DeleteProducto,
// PublishUpload, RestoreEntry, PurgeEntries, the janitor's moves), and Rows
// is the statements that move no file. The store and the bare file moves
// are unexported, so no caller can delete rows and forget their files.
package trash

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/fault"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// Service runs transactions whose rows and files change together.
type Service struct {
	store *repo.Store
	files storage.Backend
	log   *zap.Logger
	hook  func(point string) // tests: called at named points of Run (export_test.go)
}

// New returns a Service over store and files.
func New(store *repo.Store, files storage.Backend, log *zap.Logger) *Service {
	return &Service{store: store, files: files, log: log}
}

// at calls the test hook, if any, at point.
func (s *Service) at(point string) {
	if s.hook != nil {
		s.hook(point)
	}
}

// undoLockWait bounds the wait for the url locks an undo takes again after
// a commit that did not happen: a holder finishes its own transaction
// first, which the request time limit bounds.
const undoLockWait = 30 * time.Second

// Run runs fn in one transaction. Files moved through tx are put back if the
// transaction does not commit, while the advisory locks of their urls are
// held (STYLE: compensation runs under the locks that made the decision):
//
//   - when fn fails, inside the transaction, before its ROLLBACK releases
//     them;
//   - when PostgreSQL refuses the COMMIT, or pgx never sent it (the
//     context ended first: repo.ErrCommitNotSent), after taking them again
//     in a transaction of their own. Undone after the ROLLBACK without
//     them, a delete of the same url could run in between, find the file
//     gone (sin_archivo) and commit, and the undo then put the file back
//     live with no row.
//
// When the COMMIT's outcome is unknown (sent, and the connection broke
// before its answer) nothing is put back: the row lock the transaction
// held makes the janitor's recovery exact, whereas undoing a move whose
// delete did commit would leave a live file without a row.
func (s *Service) Run(ctx context.Context, fn func(tx *Tx) error) error {
	var tx *Tx
	err := s.store.WithTx(ctx, func(st *repo.Store) error {
		tx = &Tx{store: st, files: s.files, log: s.log}
		if err := fn(tx); err != nil {
			tx.rollbackFiles(ctx)
			return err
		}
		fault.Point("after-move") // files moved, COMMIT not sent
		s.at("before-commit")
		return nil
	})
	if err == nil {
		fault.Point("after-commit") // committed, nobody told yet
		if tx != nil {
			for _, f := range tx.committed {
				f()
			}
		}
	}
	if err == nil || tx == nil || len(tx.undo) == 0 {
		return err
	}
	if errors.Is(err, repo.ErrCommitUnknown) {
		s.log.Error("commit outcome unknown; files left for the janitor to reconcile",
			zap.Int("undo_steps", len(tx.undo)), zap.Error(err)) // a step: one move, or all of a delete's
		return err
	}
	s.undoLocked(ctx, tx)
	return err
}

// undoLocked undoes tx's moves after its transaction ended without
// committing, in a transaction of its own that first takes again the
// advisory locks of the urls they touched (the same keys every writer
// takes: hashtextextended(url, 0)). The request's context may have ended
// (a never-sent COMMIT), so it runs on its own, bounded by undoLockWait.
// When the locks cannot be had the files stay where they are, which the
// janitor settles by the rows and their locks, as after a crash.
func (s *Service) undoLocked(ctx context.Context, tx *Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoLockWait)
	defer cancel()
	err := s.store.WithTx(ctx, func(st *repo.Store) error {
		if err := st.LockURLs(ctx, tx.urls); err != nil {
			return err
		}
		s.at("undo")
		tx.rollbackFiles(ctx)
		return nil
	})
	if err != nil && len(tx.undo) > 0 {
		s.log.Error("undo after a commit that did not happen: url locks not taken again; files left for the janitor",
			zap.Int("undo_steps", len(tx.undo)), zap.Error(err))
	}
}

// Tx is one protocol transaction. Its methods change rows and move their
// files together, and every move is undone if the transaction does not
// commit.
type Tx struct {
	store *repo.Store
	files storage.Backend
	log   *zap.Logger
	undo  []func(ctx context.Context) error // run on a context the ended request no longer cancels
	urls  []string                          // of the files the undo moves: their locks are taken again for it
	// committed runs once the COMMIT succeeded (AfterCommit).
	committed []func()
}

// AfterCommit runs f once the transaction has committed, and never when it
// did not (a failed step, a refused or never-sent COMMIT, or one whose
// outcome is unknown): what a report counts and a log line says happened
// must be what PostgreSQL kept. Logged inside the transaction, "file
// already gone; deleting the row anyway" was also written for deletes that
// then rolled back.
func (tx *Tx) AfterCommit(f func()) { tx.committed = append(tx.committed, f) }

// onUndo records how to undo a move, and the urls whose files it moves.
func (tx *Tx) onUndo(f func(ctx context.Context) error, urls ...string) {
	tx.undo = append(tx.undo, f)
	tx.urls = append(tx.urls, urls...)
}

// trash moves the file of each entry into the trash. A local file that is
// already gone is noted on the entry (sin_archivo) and logged, not fatal: the
// delete heals the inconsistency. Any other failure aborts the transaction,
// leaving rows and files as they were: every file moved, including those
// moved by other workers after the failure, is in tx.undo before it
// returns.
//
// The request's context ending (REQUEST_TIMEOUT) is such a failure too:
// the moves stop and the step fails, so the files go back and the answer
// is a 503. Carried on to the COMMIT, an ended context could only make the
// commit's outcome unknown, leaving the moved files for the janitor (a bulk
// delete on a slow bucket did).
func (tx *Tx) trash(ctx context.Context, entries []repo.Entrada) error {
	moves := tx.moveToTrash(ctx, entries)
	var undo []trashMove
	var failed error
	for i, m := range moves {
		switch {
		case m.moved:
			undo = append(undo, m)
		case m.err != nil && failed == nil:
			failed = fmt.Errorf("move %q to trash: %w", entries[i].URL, m.err)
		}
	}
	if err := ctx.Err(); err != nil && failed == nil {
		failed = fmt.Errorf("moves to the trash: %w", err)
	}
	if len(undo) > 0 {
		urls := make([]string, len(undo))
		for i, m := range undo {
			urls[i] = m.url
		}
		tx.onUndo(func(ctx context.Context) error { return tx.moveBack(ctx, undo) }, urls...)
	}
	if failed != nil {
		return failed
	}
	var gone []int64
	for i, m := range moves {
		e := &entries[i]
		if !m.tried || m.moved {
			continue
		}
		tx.AfterCommit(func() {
			tx.log.Warn("file already gone; deleting the row anyway",
				zap.Int64("papelera_id", e.ID), zap.Stringp("url", &e.URL))
		})
		e.SinArchivo = true
		gone = append(gone, e.ID)
	}
	if len(gone) > 0 {
		return tx.store.MarkSinArchivo(ctx, gone...)
	}
	return nil
}

// moveWorkers is how many files one step moves at once: one, unless the
// storage says more pay (Capabilities.MoveConcurrency) (an object store, whose move is three requests
// over the network, 7–14 ms on MinIO here: a hundred in turn would take
// most of a second, a thousand would outlast REQUEST_TIMEOUT). On a folder renames into the one trash folder
// serialize on its lock in the kernel; moving them at once cost the same
// CPU or more (the waiters spin: renameat2 17 → 26 % of the server's
// profile under coalesced deletes) and saved wall time only on idle
// cores (1 000 renames 44 → 15–25 ms at load 8, nothing at load 12–14).
func (tx *Tx) moveWorkers(n int) int {
	return max(1, min(tx.files.Capabilities().MoveConcurrency, n))
}

// trashMove is what became of one entry's file.
type trashMove struct {
	tried, moved bool // tried: a local file that was to move
	name, url    string
	err          error
}

// moveToTrash moves the entries' files, moveWorkers at once. After a
// failure, or once ctx is done, no further move starts; the moves already
// made are reported (moved) so that they can be undone.
//
// Entries of one url (legacy rows sharing a file, deleted by one
// statement) share one file: only the first moves it, and the others find
// it gone, as they would one after the other. Moved at once, a bucket's
// copy+delete could copy it twice.
func (tx *Tx) moveToTrash(ctx context.Context, entries []repo.Entrada) []trashMove {
	out := make([]trashMove, len(entries))
	var first map[string]bool
	if len(entries) > 1 {
		first = make(map[string]bool, len(entries))
	}
	dup := make([]bool, len(entries))
	for i, e := range entries {
		if first != nil && !e.SinArchivo && storage.IsLocal(e.URL) {
			dup[i] = first[e.URL]
			first[e.URL] = true
		}
	}
	var next atomic.Int64
	var failed atomic.Bool
	work := func() {
		for !failed.Load() && ctx.Err() == nil {
			i := int(next.Add(1) - 1)
			if i >= len(entries) {
				return
			}
			if dup[i] {
				out[i] = trashMove{tried: true} // moved by the first of its url
				continue
			}
			if out[i] = tx.moveOne(ctx, entries[i]); out[i].err != nil {
				failed.Store(true)
			}
			fault.Point("moving") // some of the files moved, the rest not yet, COMMIT not sent
		}
	}
	workers := tx.moveWorkers(len(entries))
	if workers <= 1 {
		work()
		return out
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
	return out
}

// moveOne moves e's file into the trash, if it has a local one.
func (tx *Tx) moveOne(ctx context.Context, e repo.Entrada) trashMove {
	if e.SinArchivo || !storage.IsLocal(e.URL) {
		return trashMove{}
	}
	m := trashMove{tried: true, name: storage.TrashName(e.ID, e.EliminadoEn, e.URL), url: e.URL}
	m.moved, m.err = tx.files.MoveToTrash(ctx, e.URL, m.name)
	if errors.Is(m.err, storage.ErrUnsafePath) {
		if c, ok := storage.Canonical(e.URL); ok {
			// Refused as unsafe, the url may still name a file that is
			// served (a legacy "…//doble.png"): deleting the row and
			// leaving that file public would answer "deleted" for an
			// image still shown. Only a url that names no file is "no
			// file".
			live, err := tx.files.LiveExists(ctx, c)
			if err != nil {
				m.err = fmt.Errorf("live file %q named by %q: %w", c, e.URL, err)
				return m
			}
			if live {
				m.err = fmt.Errorf("url %q names the live file %q: %w", e.URL, c, ErrURLNotCanonical)
				return m
			}
		}
		// A url that climbs out of the root, or names no file, cannot be
		// a file of ours: delete the row, touch nothing on disk.
		tx.AfterCommit(func() {
			tx.log.Warn("url the storage refuses names no file; row deleted, nothing on disk touched",
				zap.Int64("papelera_id", e.ID), zap.String("url", e.URL))
		})
		m.moved, m.err = false, nil
	}
	return m
}

// moveBack undoes one step's moves into the trash, as many at once as they
// were made (distinct files: their order does not matter). Every move is
// tried; the failures are returned together.
func (tx *Tx) moveBack(ctx context.Context, ms []trashMove) error {
	errs := make([]error, len(ms))
	var next atomic.Int64
	work := func() {
		for i := int(next.Add(1) - 1); i < len(ms); i = int(next.Add(1) - 1) {
			errs[i] = tx.files.MoveFromTrash(ctx, ms[i].name, ms[i].url)
		}
	}
	var wg sync.WaitGroup
	for range tx.moveWorkers(len(ms)) {
		wg.Go(work)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// untrash moves the file of entry e from the trash back to its live place.
// The caller holds the url's lock and found no row with that url, so
// nothing but an aborted transaction of this entry can have left a file at
// the live place (see restoredInPlace). A different file there is
// ErrURLTaken; a file found in neither place is ErrFileLost.
func (tx *Tx) untrash(ctx context.Context, e repo.Entrada) error {
	if !storage.IsLocal(e.URL) {
		return nil
	}
	if e.SinArchivo {
		return tx.untrashShared(ctx, e)
	}
	name := storage.TrashName(e.ID, e.EliminadoEn, e.URL)
	err := tx.files.MoveFromTrash(ctx, name, e.URL)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		return tx.restoredInPlace(ctx, e, name)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("restore %d: another file at %q: %w", e.ID, e.URL, ErrURLTaken)
	case err != nil:
		return fmt.Errorf("move %q out of trash: %w", e.URL, err)
	}
	url := e.URL
	tx.onUndo(func(ctx context.Context) error {
		_, err := tx.files.MoveToTrash(ctx, url, name)
		return err
	}, url)
	return nil
}

// untrashShared puts in place the file of a sin_archivo entry: recorded
// while another row still held its url, the entry has no trash file of its
// own, but the row it restores needs the url's file. The caller holds the
// url's lock and found no row with that url, so the file is live already
// (nothing to move; another size is not its file: ErrURLTaken), or in the
// trash under a later entry of the same url — the delete of the url's last
// row moved it there. It is moved back from there, and that entry becomes
// sin_archivo: the file is this row's now, and that entry's restore finds
// the url held (409), as it would have had this row never been deleted.
// Found in neither place it is ErrFileLost. Before, such a restore
// answered 200 with no file (issue 21).
func (tx *Tx) untrashShared(ctx context.Context, e repo.Entrada) error {
	url := e.URL
	if c, ok := storage.Canonical(url); ok {
		url = c // a legacy url's file is the one it names when served
	}
	fi, err := tx.files.LiveInfo(ctx, url)
	switch {
	case errors.Is(err, storage.ErrUnsafePath):
		return fmt.Errorf("restore %d: %q names no file: %w", e.ID, e.URL, ErrFileLost)
	case err == nil && e.Bytes != nil && fi.Size() != *e.Bytes:
		return fmt.Errorf("restore %d: %q holds %d bytes, the entry %d: %w", e.ID, e.URL, fi.Size(), *e.Bytes, ErrURLTaken)
	case err == nil:
		return nil
	case !errors.Is(err, storage.ErrNotExist):
		return fmt.Errorf("restore %d: live file %q: %w", e.ID, e.URL, err)
	}
	others, err := tx.store.LockEntradasConArchivo(ctx, e.URL, e.ID)
	if err != nil {
		return err
	}
	for _, o := range others {
		name := storage.TrashName(o.ID, o.EliminadoEn, o.URL)
		err := tx.files.MoveFromTrash(ctx, name, url)
		switch {
		case errors.Is(err, storage.ErrNotExist):
			continue // that entry's file is missing too: the janitor reports it
		case errors.Is(err, fs.ErrExist):
			return fmt.Errorf("restore %d: another file at %q: %w", e.ID, e.URL, ErrURLTaken)
		case err != nil:
			return fmt.Errorf("move %q out of trash (entry %d): %w", e.URL, o.ID, err)
		}
		tx.onUndo(func(ctx context.Context) error {
			_, err := tx.files.MoveToTrash(ctx, url, name)
			return err
		}, url)
		tx.AfterCommit(func() {
			tx.log.Info("restore: the url's file was in the trash under a later entry of the same url; moved back from there",
				zap.Int64("papelera_id", e.ID), zap.Int64("from_papelera_id", o.ID), zap.String("url", e.URL))
		})
		return tx.store.MarkSinArchivo(ctx, o.ID)
	}
	return fmt.Errorf("restore %d: no file for %q in its place nor under another entry: %w", e.ID, e.URL, ErrFileLost)
}

// restoredInPlace settles a restore whose trash file is missing. With the
// entry taken, the url locked and no row holding it, a live file there is
// the entry's own: a restore moved it out and never committed (its replica
// was killed between the move and the COMMIT; the janitor would move it
// back under the entry's name), or the delete's rename was lost. It is
// already where the restore puts it, so the restore is done. Nothing is
// undone if the transaction then fails: the file stays live, as it was,
// for the janitor. A size other than the entry's is not its file.
func (tx *Tx) restoredInPlace(ctx context.Context, e repo.Entrada, name string) error {
	url := e.URL
	if c, ok := storage.Canonical(url); ok {
		url = c // a legacy url's file is the one it names when served
	}
	fi, err := tx.files.LiveInfo(ctx, url)
	switch {
	case errors.Is(err, storage.ErrUnsafePath):
		return fmt.Errorf("restore %d: %q names no file: %w", e.ID, e.URL, ErrFileLost)
	case errors.Is(err, storage.ErrNotExist):
		return fmt.Errorf("restore %d: %s: %w", e.ID, name, ErrFileLost)
	case err != nil:
		return fmt.Errorf("restore %d: live file %q: %w", e.ID, e.URL, err)
	case e.Bytes != nil && fi.Size() != *e.Bytes:
		return fmt.Errorf("restore %d: %q holds %d bytes, the entry %d: %w", e.ID, e.URL, fi.Size(), *e.Bytes, ErrURLTaken)
	}
	tx.AfterCommit(func() {
		tx.log.Warn("restore: the entry's file was live already, moved out of the trash by a transaction that never committed; restored in place",
			zap.Int64("papelera_id", e.ID), zap.String("url", e.URL), zap.String("trash_name", name))
	})
	return nil
}

// publish moves a staged upload to the live path of url.
func (tx *Tx) publish(ctx context.Context, st *storage.Staged, url string) error {
	if err := tx.files.Publish(ctx, st, url); err != nil {
		return fmt.Errorf("publish %q: %w", url, err)
	}
	tx.onUndo(func(ctx context.Context) error { return tx.files.RemoveLive(ctx, url) }, url)
	return nil
}

// rollbackFiles undoes the moves, newest first. A move that cannot be undone
// is logged: the janitor's recovery pass finds it by its trash name.
func (tx *Tx) rollbackFiles(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for i := len(tx.undo) - 1; i >= 0; i-- {
		if err := tx.undo[i](ctx); err != nil {
			tx.log.Error("undo file move after rollback", zap.Error(err))
		}
	}
	tx.undo = nil
}
