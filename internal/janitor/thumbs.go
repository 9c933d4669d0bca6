package janitor

import (
	"context"
	"fmt"

	"github.com/imagenes/imagenes/internal/storage"
)

// thumbnails removes cached thumbnails whose original is no longer live
// (deleted, purged, or a name no thumbnail of ours has). They are derived
// data: the thumbnail route already refuses them (it opens the original
// first), so this only frees space, and a thumbnail removed while its
// original is restored is simply generated again. A restore that races
// this step can therefore lose nothing. One stat per cache entry.
func (p *pass) thumbnails(ctx context.Context) error {
	if !p.files.Capabilities().Thumbnails {
		return nil
	}
	tc := p.files
	return tc.WalkThumbs(ctx, func(key string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.rep.FilesScanned++
		url, ok := storage.ThumbOriginal(key)
		live := false
		if ok {
			var err error
			if live, err = tc.LiveExists(ctx, url); err != nil {
				return fmt.Errorf("original of thumbnail %s: %w", key, err)
			}
		}
		if live {
			return nil
		}
		p.rep.Thumbnails++
		p.list(kindThumbnails, Item{URL: url, TrashName: key})
		if p.cfg.DryRun {
			return nil
		}
		return tc.RemoveThumb(ctx, key)
	})
}
