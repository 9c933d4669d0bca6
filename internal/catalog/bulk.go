package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// MaxBulk is the most ids one bulk delete takes (SPEC §10).
const MaxBulk = 1000

// ErrBulkTooLarge: a bulk delete named more distinct ids than BulkLimit.
var ErrBulkTooLarge = errors.New("more ids than one request moves on this storage")

// bulkLimit is MaxBulk, or less where the storage says fewer files can be
// moved within one request's time (a bucket, whose move is three network
// requests: storage.Capabilities.MaxMovesPerRequest).
func bulkLimit(c storage.Capabilities) int {
	if c.MaxMovesPerRequest > 0 {
		return max(1, min(MaxBulk, c.MaxMovesPerRequest))
	}
	return MaxBulk
}

// BulkLimit is the most distinct ids DeleteImagenesBulk takes on this
// storage: the route says so to a client that sends more, and the admin
// page splits a larger selection into requests of this size.
func (s *Service) BulkLimit() int { return s.bulkLimit }

// Bulk is what a bulk delete did, in the order the ids were given.
type Bulk struct {
	Deleted  []repo.Entrada // one per image trashed
	NotFound []int32        // ids no image had
}

// DeleteImagenesBulk trashes every image of ids that exists, rows and files
// in one transaction: all of them, or, on any failure, none (every file
// moved is put back). Repeated ids count once; more distinct ids than
// BulkLimit is ErrBulkTooLarge, before anything changes. Concurrent
// deletes cannot deadlock with it: each takes its rows' url locks in one
// key order before any row lock (see repo.TrashImagenes).
func (s *Service) DeleteImagenesBulk(ctx context.Context, ids []int32, deletedBy string) (Bulk, error) {
	uniq := make([]int32, 0, len(ids))
	seen := make(map[int32]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	if len(uniq) > s.bulkLimit {
		return Bulk{}, fmt.Errorf("%d ids, at most %d: %w", len(uniq), s.bulkLimit, ErrBulkTooLarge)
	}
	var es []repo.Entrada
	err := s.proto.Run(ctx, func(tx *trash.Tx) error {
		var err error
		es, err = tx.DeleteImagenes(ctx, uniq, repo.All, repo.MotivoImagen, deletedBy)
		return err
	})
	if err != nil {
		for range uniq {
			s.metrics.deleted(repo.Entrada{}, err)
		}
		return Bulk{}, err
	}
	byID := make(map[int32]repo.Entrada, len(es))
	for _, e := range es {
		if e.ImagenID != nil {
			byID[*e.ImagenID] = e
		}
	}
	var out Bulk
	for _, id := range uniq {
		e, ok := byID[id]
		if !ok {
			out.NotFound = append(out.NotFound, id)
			s.metrics.deleted(repo.Entrada{}, repo.ErrNotFound)
			continue
		}
		out.Deleted = append(out.Deleted, e)
		s.metrics.deleted(e, nil)
	}
	return out, nil
}
