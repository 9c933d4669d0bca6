package janitor

import (
	"context"
	"fmt"
	"io/fs"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/fault"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// orphans walks the live folders in batches, asks the table which urls of a
// batch have rows (one query per batch), and moves the files that have none
// and are older than the grace period to the trash. Without --force it moves
// nothing when it finds more than MaxOrphans: it holds at most that many
// before deciding, so memory stays bounded either way.
func (p *pass) orphans(ctx context.Context) error {
	hasRows, err := p.store.HasImagenes(ctx)
	if err != nil {
		return err
	}
	grace := p.now.Add(-p.cfg.OrphanGrace)
	batch := make([]repo.Huerfana, 0, p.cfg.BatchSize)
	entries := make([]fs.DirEntry, 0, p.cfg.BatchSize)
	var pending []repo.Huerfana
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		urls := make([]string, len(batch))
		for i, h := range batch {
			urls[i] = h.URL
		}
		used, err := p.store.URLsInUse(ctx, urls)
		if err != nil {
			return err
		}
		for i, h := range batch {
			if used[h.URL] || p.dryMoved[h.URL] {
				continue
			}
			// Only a file without a row is worth an lstat.
			info, err := entries[i].Info()
			if err != nil {
				continue // gone meanwhile
			}
			if h.Bytes, h.ModTime = info.Size(), info.ModTime(); h.ModTime.Before(grace) {
				pending = append(pending, h)
			}
		}
		batch, entries = batch[:0], entries[:0]
		if p.cfg.Force {
			err := p.moveOrphans(ctx, pending)
			pending = pending[:0]
			return err
		}
		if len(pending) > p.cfg.MaxOrphans {
			return fmt.Errorf("%w (found more than %d)", ErrTooManyOrphans, p.cfg.MaxOrphans)
		}
		return nil
	}
	err = p.files.WalkLive(func(url string, d fs.DirEntry) error {
		if !hasRows {
			return ErrEmptyTable
		}
		p.rep.FilesScanned++
		p.bar.add(1)
		batch, entries = append(batch, repo.Huerfana{URL: url}), append(entries, d)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	for len(pending) > 0 {
		n := min(len(pending), p.cfg.BatchSize)
		if err := p.moveOrphans(ctx, pending[:n]); err != nil {
			return err
		}
		pending = pending[n:]
	}
	return nil
}

// moveOrphans moves files to the trash with new entries, in one protocol
// transaction. It first takes each url's advisory lock: an upload or a
// restore between its file write and its commit holds that lock, so its
// file is skipped, never taken for an orphan. The entries are then written
// by a later statement, whose snapshot sees every row committed before the
// locks were taken, and only for urls that still have no row.
func (p *pass) moveOrphans(ctx context.Context, hs []repo.Huerfana) error {
	if len(hs) == 0 {
		return nil
	}
	var written []repo.Entrada
	err := p.proto.Run(ctx, func(tx *trash.Tx) error {
		urls := make([]string, len(hs))
		for i, h := range hs {
			urls[i] = h.URL
		}
		locked, err := tx.Rows().TryLockURLs(ctx, urls)
		if err != nil {
			return err
		}
		p.rep.InFlight += len(hs) - len(locked)
		mine := make(map[string]bool, len(locked))
		for _, u := range locked {
			mine[u] = true
		}
		free := hs[:0:0]
		for _, h := range hs {
			if mine[h.URL] {
				free = append(free, h)
			}
		}
		if len(free) == 0 {
			return nil
		}
		if p.cfg.DryRun {
			used, err := tx.Rows().URLsInUse(ctx, locked)
			if err != nil {
				return err
			}
			unused := free[:0:0]
			for _, h := range free {
				if !used[h.URL] {
					unused = append(unused, h)
				}
			}
			if unused, err = p.finishRestores(ctx, tx, unused); err != nil {
				return err
			}
			for _, h := range unused {
				p.rep.Orphans++
				p.list(kindOrphans, Item{URL: h.URL, Bytes: h.Bytes})
			}
			return nil
		}
		if free, err = p.finishRestores(ctx, tx, free); err != nil || len(free) == 0 {
			return err
		}
		es, err := tx.TrashOrphans(ctx, free, deletedBy)
		if err != nil {
			return err
		}
		fault.Point("janitor-orphan") // orphans in the trash, entries not committed
		written = es
		p.rep.Orphans += len(es)
		for _, e := range es {
			p.moved(kindOrphans, entryItem(e))
		}
		return nil
	})
	if err == nil {
		p.count(written) // committed
	}
	return err
}

// finishRestores settles the live files (locked, without a row) that an
// existing trash entry owns: on an object store a restore moves the file by
// copy then delete, and a crash between the two (in a restore, or in the
// undo of a refused one) leaves the object under both keys with the entry
// and no row. The entry is the fact, so the live copy goes (SettleLiveCopy: only
// when the trash holds the same bytes, or moved in when it holds nothing);
// it is never made a second entry. It returns the files still orphans.
func (p *pass) finishRestores(ctx context.Context, tx *trash.Tx, hs []repo.Huerfana) ([]repo.Huerfana, error) {
	urls := make([]string, len(hs))
	for i, h := range hs {
		urls[i] = h.URL
	}
	es, err := tx.Rows().EntradasByURL(ctx, urls)
	if err != nil || len(es) == 0 {
		return hs, err
	}
	byURL := map[string][]repo.Entrada{}
	for _, e := range es {
		byURL[e.URL] = append(byURL[e.URL], e)
	}
	rest := hs[:0:0]
	for _, h := range hs {
		settled := false
		for _, e := range byURL[h.URL] {
			ok, err := p.settleLiveCopy(tx, e)
			if err != nil {
				return nil, err
			}
			if ok {
				settled = true
				p.rep.Recovered++
				p.list(kindRecovered, entryItem(e))
				p.log.Info("janitor: live file without a row belongs to its trash entry; settled",
					zap.Int64("papelera_id", e.ID), zap.String("url", h.URL))
				break
			}
		}
		if !settled {
			rest = append(rest, h)
		}
	}
	return rest, nil
}

// settleLiveCopy is tx.SettleLiveCopy, or in a dry run what it would do:
// settle when the entry's trash file is missing (the live file moves in) or
// holds the same bytes (the live copy goes).
func (p *pass) settleLiveCopy(tx *trash.Tx, e repo.Entrada) (bool, error) {
	if !p.cfg.DryRun {
		return tx.SettleLiveCopy(e)
	}
	if e.SinArchivo || !storage.IsLocal(e.URL) {
		return false, nil
	}
	name := storage.TrashName(e.ID, e.EliminadoEn, e.URL)
	inTrash, err := p.files.TrashExists(name)
	if err != nil || !inTrash {
		return err == nil, err
	}
	return p.sameCopy(name, e.URL)
}
