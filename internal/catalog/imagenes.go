package catalog

import (
	"context"
	"fmt"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// DeleteImagen deletes image id (if scope may see it) and moves its file to
// the trash. Concurrent calls share transactions (see coalescer); each gets
// the trash entry, or an error wrapping repo.ErrNotFound, as if alone.
func (s *Service) DeleteImagen(ctx context.Context, id int32, scope repo.Scope, deletedBy string) (repo.Entrada, error) {
	c := newCall(ctx, repo.DeleteRequest{ID: id, Scope: scope, DeletedBy: deletedBy})
	r := s.deletes.do(c)
	putCall(c)
	s.metrics.deleted(r.entry, r.err)
	return r.entry, r.err
}

// deleteOne deletes one image in its own transaction.
func (s *Service) deleteOne(ctx context.Context, r repo.DeleteRequest) (repo.Entrada, error) {
	var entry repo.Entrada
	err := s.proto.Run(ctx, func(tx *trash.Tx) error {
		es, err := tx.DeleteImagenes(ctx, []int32{r.ID}, r.Scope, repo.MotivoImagen, r.DeletedBy)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return notFound(r.ID)
		}
		entry = es[0]
		return nil
	})
	return entry, err
}

func notFound(id int32) error { return fmt.Errorf("imagen %d: %w", id, repo.ErrNotFound) }

// Upload stores a staged file as a new image at a fresh url. On any failure
// the staged or published file is removed.
func (s *Service) Upload(ctx context.Context, st *storage.Staged, n repo.NuevaImagen) (repo.Imagen, error) {
	n.URL = storage.NewImageURL(st.Ext)
	n.Bytes, n.ContentType, n.SHA256 = st.Size, st.ContentType, st.SHA256
	var img repo.Imagen
	err := s.proto.Run(ctx, func(tx *trash.Tx) error {
		var err error
		img, err = tx.PublishUpload(ctx, st, n)
		return err
	})
	if err != nil {
		_ = s.files.Discard(ctx, st) // still staged if the publish never ran
	}
	s.metrics.uploaded(err)
	return img, err
}

// Restore puts trash entry id back, in one transaction (trash.Tx.RestoreEntry).
func (s *Service) Restore(ctx context.Context, id int64) (repo.Imagen, error) {
	var img repo.Imagen
	err := s.proto.Run(ctx, func(tx *trash.Tx) error {
		var err error
		img, err = tx.RestoreEntry(ctx, id)
		return err
	})
	s.metrics.restored(err)
	return img, err
}
