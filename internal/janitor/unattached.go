package janitor

import (
	"context"
	"time"

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
		return p.listUnattached(ctx, cutoff)
	}
	for {
		var es []repo.Entrada
		err := p.inTx(ctx, func(tx *trash.Tx) error {
			var err error
			es, err = tx.DeleteUnattached(ctx, cutoff, p.cfg.BatchSize, deletedBy)
			return err
		})
		if err != nil {
			return err
		}
		p.rep.Unattached += len(es)
		p.count(es)
		for _, e := range es {
			p.moved(kindUnattached, entryItem(e))
		}
		p.rep.RowsScanned += len(es)
		p.bar.add(len(es))
		if len(es) < p.cfg.BatchSize {
			return nil
		}
	}
}

// listUnattached is the dry run of unattached: it counts and lists, in id
// batches, the rows a real pass would take.
func (p *pass) listUnattached(ctx context.Context, cutoff time.Time) error {
	var after int32
	for {
		rows, err := p.store.ListSinProducto(ctx, cutoff, after, p.cfg.BatchSize)
		if err != nil {
			return err
		}
		for _, r := range rows {
			p.list(kindUnattached, Item{URL: r.URL, ImagenID: r.ID})
		}
		p.rep.Unattached += len(rows)
		p.rep.RowsScanned += len(rows)
		if len(rows) < p.cfg.BatchSize {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}
