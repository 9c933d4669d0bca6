package trash

import (
	"context"
	"errors"
	"fmt"

	"github.com/imagenes/imagenes/internal/fault"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// Errors of Restore, both wrapping repo.ErrConflict.
var (
	ErrURLTaken    = fmt.Errorf("url already used by a live image: %w", repo.ErrConflict)
	ErrProductGone = fmt.Errorf("the image's product no longer exists: %w", repo.ErrConflict)
)

// DeleteImagen deletes image id (if scope may see it) and moves its file to
// the trash, in one transaction. It returns the trash entry, or an error
// wrapping repo.ErrNotFound.
func (s *Service) DeleteImagen(ctx context.Context, id int32, scope repo.Scope, por string) (repo.Entrada, error) {
	var entry repo.Entrada
	err := s.Run(ctx, func(tx *Tx) error {
		es, err := tx.Store.TrashImagenes(ctx, []int32{id}, scope, repo.MotivoImagen, por)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return fmt.Errorf("imagen %d: %w", id, repo.ErrNotFound)
		}
		if err := tx.Trash(ctx, es); err != nil {
			return err
		}
		entry = es[0]
		return nil
	})
	return entry, err
}

// Upload stores a staged file as a new image at a fresh url. The url's
// advisory lock is held from before the file appears in the live folder until
// the commit, so the janitor never mistakes an upload in flight for an
// orphan. On any failure the staged or published file is removed.
func (s *Service) Upload(ctx context.Context, st *storage.Staged, n repo.NuevaImagen) (repo.Imagen, error) {
	n.URL = storage.NewImageURL(st.Ext)
	n.Bytes, n.ContentType, n.SHA256 = st.Size, st.ContentType, st.SHA256
	var img repo.Imagen
	err := s.Run(ctx, func(tx *Tx) error {
		if err := tx.Store.LockURL(ctx, n.URL); err != nil {
			return err
		}
		var err error
		if img, err = tx.Store.InsertImagen(ctx, n); err != nil {
			return err
		}
		fault.Point("upload") // staged, row inserted, file not yet live
		return tx.Publish(st, n.URL)
	})
	if err != nil {
		_ = s.files.Discard(st) // still staged if Publish never ran
	}
	return img, err
}

// Restore puts trash entry id back: the same image id, url, product and
// order, and its file back in place, in one transaction. Errors wrap
// repo.ErrNotFound (entry gone: purged or already restored), ErrURLTaken or
// ErrProductGone.
func (s *Service) Restore(ctx context.Context, id int64) (repo.Imagen, error) {
	var img repo.Imagen
	err := s.Run(ctx, func(tx *Tx) error {
		e, err := tx.Store.TakeEntrada(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.Store.LockURL(ctx, e.URL); err != nil {
			return err
		}
		taken, err := tx.Store.URLInUse(ctx, e.URL)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("restore %d: %w", id, ErrURLTaken)
		}
		if img, err = tx.Store.RestoreImagen(ctx, e); err != nil {
			if errors.Is(err, repo.ErrForeignKey) {
				return fmt.Errorf("restore %d: %w", id, ErrProductGone)
			}
			return err
		}
		return tx.Untrash(e)
	})
	return img, err
}
