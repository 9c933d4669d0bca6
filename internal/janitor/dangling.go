package janitor

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// fileMissing: a url that cannot name a file inside the root has none.
func (p *pass) fileMissing(ctx context.Context, url string) (bool, error) {
	ok, err := p.files.LiveExists(ctx, url)
	if errors.Is(err, storage.ErrUnsafePath) {
		return true, nil
	}
	return !ok, err
}

// settleDangling checks rows again under their urls' locks (tried, never
// waited for: the urls' locks come before row locks, as in every delete)
// and their row locks, then reports them and, with --repair-dangling,
// trashes them.
func (p *pass) settleDangling(ctx context.Context, rows []repo.LocalImagen) error {
	if len(rows) == 0 {
		return nil
	}
	var written []repo.Entrada
	err := p.inTx(ctx, func(tx *trash.Tx) error {
		urls := make([]string, len(rows))
		for i, r := range rows {
			urls[i] = r.URL
		}
		got, err := tx.Rows().TryLockURLs(ctx, urls)
		if err != nil {
			return err
		}
		mine := make(map[string]bool, len(got))
		for _, u := range got {
			mine[u] = true
		}
		var ids []int32
		for _, r := range rows {
			if mine[r.URL] {
				ids = append(ids, r.ID)
			}
		}
		locked, err := tx.Rows().LockImagenesSkipLocked(ctx, ids)
		if err != nil {
			return err
		}
		p.rep.InFlight += len(rows) - len(locked)
		var still []int32
		var items []Item
		for _, r := range locked {
			gone, err := p.fileMissing(ctx, r.URL)
			if err != nil {
				return err
			}
			if gone {
				still = append(still, r.ID)
				p.noteDangling(r, p.rep.Dangling+len(still))
				items = append(items, Item{URL: r.URL, ImagenID: r.ID})
				p.list(kindDangling, items[len(items)-1])
			}
		}
		p.rep.Dangling += len(still)
		if !p.cfg.RepairDangling || len(still) == 0 {
			return nil
		}
		if p.cfg.DryRun {
			// Listed as the real pass lists them, so the two reports agree.
			p.rep.Repaired += len(still)
			for _, it := range items {
				p.list(kindRepaired, it)
			}
			return nil
		}
		es, err := tx.DeleteImagenes(ctx, still, repo.All, repo.MotivoColgante, deletedBy)
		if err != nil {
			return err
		}
		written = es
		p.rep.Repaired += len(es)
		for _, e := range es {
			p.moved(kindRepaired, entryItem(e))
		}
		return nil
	})
	if err == nil {
		p.count(written) // committed
	}
	return err
}

// danglingLogged is how many dangling rows a pass names at warn level; the
// rest go to debug, so that a million missing files (a lost volume) do not
// flood the log. The count is in the pass summary either way.
const danglingLogged = 20

func (p *pass) noteDangling(r repo.Imagen, nth int) {
	log := p.log.Debug
	if nth <= danglingLogged {
		log = p.log.Warn
	}
	log("janitor: image row whose file is missing", zap.Int32("imagen_id", r.ID), zap.String("url", r.URL))
}
