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
}

// New returns a Service over store and files.
func New(store *repo.Store, files storage.Backend, log *zap.Logger) *Service {
	return &Service{store: store, files: files, log: log}
}

// Run runs fn in one transaction. Files moved through tx are put back if the
// transaction does not commit: when fn fails, and when PostgreSQL refuses the
// COMMIT. When the COMMIT's outcome is unknown (the connection broke while it
// was in flight) nothing is put back: the row lock the transaction held makes
// the janitor's recovery exact, whereas undoing a move whose delete did
// commit would leave a live file without a row.
func (s *Service) Run(ctx context.Context, fn func(tx *Tx) error) error {
	var tx *Tx
	err := s.store.WithTx(ctx, func(st *repo.Store) error {
		tx = &Tx{store: st, files: s.files, log: s.log}
		if err := fn(tx); err != nil {
			return err
		}
		fault.Point("after-move") // files moved, COMMIT not sent
		return nil
	})
	if err == nil {
		fault.Point("after-commit") // committed, nobody told yet
	}
	if err == nil || tx == nil {
		return err
	}
	if errors.Is(err, repo.ErrCommitUnknown) {
		s.log.Error("commit outcome unknown; files left for the janitor to reconcile",
			zap.Int("moves", len(tx.undo)), zap.Error(err))
		return err
	}
	tx.rollbackFiles(ctx)
	return err
}

// Tx is one protocol transaction. Its methods change rows and move their
// files together, and every move is undone if the transaction does not
// commit.
type Tx struct {
	store *repo.Store
	files storage.Backend
	log   *zap.Logger
	undo  []func() error
}

// trash moves the file of each entry into the trash. A local file that is
// already gone is noted on the entry (sin_archivo) and logged, not fatal: the
// delete heals the inconsistency. Any other failure aborts the transaction,
// leaving rows and files as they were.
func (tx *Tx) trash(ctx context.Context, entries []repo.Entrada) error {
	for i := range entries {
		e := &entries[i]
		if e.SinArchivo || !storage.IsLocal(e.URL) {
			continue
		}
		name := storage.TrashName(e.ID, e.EliminadoEn, e.URL)
		moved, err := tx.files.MoveToTrash(e.URL, name)
		if errors.Is(err, storage.ErrUnsafePath) {
			// A url that climbs out of the root cannot name a file of ours:
			// delete the row, touch nothing on disk.
			tx.log.Warn("url outside the storage root; row deleted, nothing on disk touched",
				zap.Int64("papelera_id", e.ID), zap.String("url", e.URL))
			moved, err = false, nil
		}
		if err != nil {
			return fmt.Errorf("move %q to trash: %w", e.URL, err)
		}
		if !moved {
			tx.log.Warn("file already gone; deleting the row anyway",
				zap.Int64("papelera_id", e.ID), zap.Stringp("url", &e.URL))
			if err := tx.store.MarkSinArchivo(ctx, e.ID); err != nil {
				return err
			}
			e.SinArchivo = true
			continue
		}
		url := e.URL
		tx.undo = append(tx.undo, func() error { return tx.files.MoveFromTrash(name, url) })
	}
	return nil
}

// untrash moves the file of entry e from the trash back to its live place.
func (tx *Tx) untrash(e repo.Entrada) error {
	if e.SinArchivo || !storage.IsLocal(e.URL) {
		return nil
	}
	name := storage.TrashName(e.ID, e.EliminadoEn, e.URL)
	if err := tx.files.MoveFromTrash(name, e.URL); err != nil {
		return fmt.Errorf("move %q out of trash: %w", e.URL, err)
	}
	url := e.URL
	tx.undo = append(tx.undo, func() error {
		_, err := tx.files.MoveToTrash(url, name)
		return err
	})
	return nil
}

// publish moves a staged upload to the live path of url.
func (tx *Tx) publish(st *storage.Staged, url string) error {
	if err := tx.files.Publish(st, url); err != nil {
		return fmt.Errorf("publish %q: %w", url, err)
	}
	tx.undo = append(tx.undo, func() error { return tx.files.RemoveLive(url) })
	return nil
}

// rollbackFiles undoes the moves, newest first. A move that cannot be undone
// is logged: the janitor's recovery pass finds it by its trash name.
func (tx *Tx) rollbackFiles(ctx context.Context) {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		if err := tx.undo[i](); err != nil {
			tx.log.Error("undo file move after rollback", zap.Error(err))
		}
	}
	tx.undo = nil
}
