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

// orphans walks the live folders and merges them with the table's local
// rows, both in byte order of url (storage.WalkLive, repo.LocalesByURL,
// streamed a few chunks ahead on another connection): a file no row names is
// an orphan when it is older than the grace period, and a row whose url no
// file has is dangling, settled here in batches (settleDangling) — which is
// why the unattached step runs before this one, as the dangling step did
// when it had its own scan. Both are only candidates: a move or a report decides again
// under the url's lock.
//
// A file that comes out of order (a folder too big to sort, a backend that
// lists otherwise) is looked up the old way, one query per batch
// (URLsInUse), and a row the walk passed without its file is stat'ed before
// it is taken for dangling, so the order only decides the speed, never the
// answer. Without --force nothing moves when more than MaxOrphans are found:
// at most that many are held before deciding. Memory is bounded by those, a
// batch and the stream's chunks.
func (p *pass) orphans(ctx context.Context) error {
	hasRows, err := p.store.HasImagenes(ctx)
	if err != nil {
		return err
	}
	grace := p.now.Add(-p.cfg.OrphanGrace)
	var pending []repo.Huerfana
	// orphan holds a file that has no row, if it is old enough.
	orphan := func(url string, d fs.DirEntry) error {
		if p.dryMoved[url] {
			return nil
		}
		// Only a file without a row is worth an lstat.
		info, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		if info.ModTime().Before(grace) {
			pending = append(pending, repo.Huerfana{URL: url, Bytes: info.Size(), ModTime: info.ModTime()})
		}
		switch {
		case p.cfg.Force && len(pending) >= p.cfg.BatchSize:
			err := p.moveOrphans(ctx, pending)
			pending = pending[:0]
			return err
		case !p.cfg.Force && len(pending) > p.cfg.MaxOrphans:
			return fmt.Errorf("%w (found more than %d)", ErrTooManyOrphans, p.cfg.MaxOrphans)
		}
		return nil
	}

	// Files out of order: asked about in batches.
	batch := make([]string, 0, p.cfg.BatchSize)
	entries := make([]fs.DirEntry, 0, p.cfg.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		used, err := p.store.URLsInUse(ctx, batch)
		if err != nil {
			return err
		}
		for i, url := range batch {
			if !used[url] {
				if err := orphan(url, entries[i]); err != nil {
					return err
				}
			}
		}
		batch, entries = batch[:0], entries[:0]
		return nil
	}

	// The rows, merged, streamed on the pass lock's connection.
	rows := streamRows(ctx, p.lock)
	defer rows.close()
	var dangling []repo.LocalImagen
	// passed is a row the merge went by without meeting its file.
	passed := func(r repo.LocalImagen) error {
		p.rep.RowsScanned++
		p.bar.add(1)
		if p.dryMoved[r.URL] {
			return nil
		}
		gone, err := p.fileMissing(ctx, r.URL)
		if err != nil || !gone {
			return err
		}
		if dangling = append(dangling, r); len(dangling) == p.cfg.BatchSize {
			err = p.settleDangling(ctx, dangling)
			dangling = dangling[:0]
		}
		return err
	}
	last := "" // the highest url merged so far
	err = p.files.WalkLive(ctx, func(url string, d fs.DirEntry) error {
		if !hasRows {
			return ErrEmptyTable
		}
		p.rep.FilesScanned++
		p.bar.add(1)
		if url <= last {
			batch, entries = append(batch, url), append(entries, d)
			if len(batch) == cap(batch) {
				return flush()
			}
			return nil
		}
		last = url
		has := false
		for {
			r, ok, err := rows.peek()
			if err != nil {
				return err
			}
			if !ok || r.URL > url {
				break
			}
			rows.take()
			if r.URL == url {
				has = true
				p.rep.RowsScanned++
				p.bar.add(1)
			} else if err := passed(r); err != nil {
				return err
			}
		}
		if has {
			return nil
		}
		return orphan(url, d)
	})
	if err == nil {
		err = flush()
	}
	for err == nil { // the rows after the last file
		r, ok, rerr := rows.peek()
		if rerr != nil || !ok {
			err = rerr
			break
		}
		rows.take()
		err = passed(r)
	}
	if err == nil {
		err = p.settleDangling(ctx, dangling)
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
	err := p.inTx(ctx, func(tx *trash.Tx) error {
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
			ok, err := p.settleLiveCopy(ctx, tx, e)
			if err != nil {
				return nil, err
			}
			if ok {
				settled = true
				p.rep.Recovered++
				p.list(kindRecovered, entryItem(e))
				p.info("janitor: live file without a row belongs to its trash entry; settled",
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
func (p *pass) settleLiveCopy(ctx context.Context, tx *trash.Tx, e repo.Entrada) (bool, error) {
	if !p.cfg.DryRun {
		return tx.SettleLiveCopy(ctx, e)
	}
	if e.SinArchivo || !storage.IsLocal(e.URL) {
		return false, nil
	}
	name := storage.TrashName(e.ID, e.EliminadoEn, e.URL)
	inTrash, err := p.files.TrashExists(ctx, name)
	if err != nil || !inTrash {
		return err == nil, err
	}
	return p.sameCopy(ctx, name, e.URL)
}
