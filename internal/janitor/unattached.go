package janitor

import (
	"context"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/trash"
)

// unattached moves images that no product adopted within UnattachedTTL to
// the trash, a batch per transaction, through the same statement and moves
// as any delete.
func (p *pass) unattached(ctx context.Context) error {
	if p.cfg.UnattachedTTL <= 0 {
		return nil
	}
	cutoff := p.now.Add(-p.cfg.UnattachedTTL)
	if p.cfg.DryRun {
		n, err := p.store.CountSinProducto(ctx, cutoff)
		p.rep.Unattached += n
		return err
	}
	for {
		var es []repo.Entrada
		err := p.proto.Run(ctx, func(tx *trash.Tx) error {
			var err error
			if es, err = tx.Store.TrashSinProducto(ctx, cutoff, p.cfg.BatchSize, por); err != nil {
				return err
			}
			return tx.Trash(ctx, es)
		})
		if err != nil {
			return err
		}
		p.rep.Unattached += len(es)
		p.rep.RowsScanned += len(es)
		p.bar.add(len(es))
		if len(es) < p.cfg.BatchSize {
			return nil
		}
	}
}
