package janitor

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/fault"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// entries walks the trash entries in id batches: entries past retention are
// purged (entry and file, for good); younger ones whose file is not in the
// trash are reconciled.
func (p *pass) entries(ctx context.Context) error {
	cutoff := p.now.Add(-p.cfg.Retention)
	var after int64
	for {
		es, err := p.store.ListEntradas(ctx, after, p.cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		after = es[len(es)-1].ID
		p.rep.RowsScanned += len(es)
		p.bar.add(len(es))
		var old []repo.Entrada
		for _, e := range es {
			switch {
			case e.EliminadoEn.Before(cutoff):
				old = append(old, e)
			case !e.SinArchivo && storage.IsLocal(e.URL):
				if err := p.checkEntry(ctx, e); err != nil {
					return err
				}
			}
		}
		if err := p.purge(ctx, old, cutoff); err != nil {
			return err
		}
	}
}

// purge removes the files of the entries old (those still past cutoff and
// not held by a restore) and deletes the entries whose file is gone, in one
// transaction per batch (trash.Tx.PurgeEntries); an entry whose file could
// not be removed is kept for the next pass.
func (p *pass) purge(ctx context.Context, old []repo.Entrada, cutoff time.Time) error {
	if len(old) == 0 {
		return nil
	}
	if p.cfg.DryRun {
		p.rep.Purged += len(old)
		for _, e := range old {
			p.list(kindPurged, entryItem(e))
		}
		return nil
	}
	ids := make([]int64, len(old))
	for i, e := range old {
		ids[i] = e.ID
	}
	return p.inTx(ctx, func(tx *trash.Tx) error {
		es, kept, err := tx.PurgeEntries(ctx, ids, cutoff)
		if err != nil {
			return err
		}
		fault.Point("janitor-purge") // files removed, entries not yet committed
		p.rep.Purged += len(es)
		for _, e := range es {
			p.moved(kindPurged, entryItem(e))
		}
		p.rep.PurgeKept += len(kept)
		for id, err := range kept {
			p.log.Warn("janitor: trash file not removed; its entry is kept for the next pass",
				zap.Int64("papelera_id", id), zap.Error(err))
		}
		return nil
	})
}

// checkEntry reconciles an entry whose trash file may be missing. Its live
// file still in place with no row means the rename into the trash was lost
// (a power cut after the commit) or a restore moved it out and never
// committed: either way it belongs in the trash under the entry's name.
func (p *pass) checkEntry(ctx context.Context, e repo.Entrada) error {
	name := storage.TrashName(e.ID, e.EliminadoEn, e.URL)
	p.at("check-entry", name)
	inTrash, err := p.files.TrashExists(ctx, name)
	if err != nil || inTrash {
		return err
	}
	p.at("check-entry-moved", name)
	// Everything below is decided under the url's lock with the entry read
	// again: what was seen before may be a restore (and a new delete) that
	// committed since the entry was listed, or one still in flight.
	return p.inTx(ctx, func(tx *trash.Tx) error {
		locked, err := tx.Rows().TryLockURLs(ctx, []string{e.URL})
		if err != nil {
			return err
		}
		if len(locked) == 0 {
			p.rep.InFlight++ // a restore of it is in flight
			return nil
		}
		still, err := tx.Rows().EntradaExists(ctx, e.ID)
		if err != nil || !still {
			return err // restored meanwhile
		}
		inTrash, err := p.files.TrashExists(ctx, name)
		if err != nil || inTrash {
			return err // a restore that rolled back put it back
		}
		live, err := p.files.LiveExists(ctx, e.URL)
		if err != nil {
			return err
		}
		if !live {
			p.rep.TrashMissing++
			p.log.Warn("janitor: trash entry whose file is nowhere; it cannot be restored",
				zap.Int64("papelera_id", e.ID), zap.String("url", e.URL))
			return nil
		}
		used, err := tx.Rows().URLInUse(ctx, e.URL)
		if err != nil || used {
			return err // a live row owns that file
		}
		p.rep.Recovered++
		p.list(kindRecovered, entryItem(e))
		p.info("janitor: moving a live file without a row into the trash under its entry",
			zap.Int64("papelera_id", e.ID), zap.String("url", e.URL))
		if p.cfg.DryRun {
			p.dryMoved[e.URL] = true
			return nil
		}
		return tx.TrashLost(ctx, e)
	})
}
