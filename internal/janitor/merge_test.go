package janitor_test

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// reordered lists the live files in another order than its backend's:
// what a folder too big to sort, or a bucket listing otherwise, looks like to
// the orphans step's merge.
type reordered struct {
	storage.Backend
	order func(urls []string)
}

func (r reordered) WalkLive(ctx context.Context, fn func(url string, d fs.DirEntry) error) error {
	var urls []string
	ents := map[string]fs.DirEntry{}
	if err := r.Backend.WalkLive(ctx, func(url string, d fs.DirEntry) error {
		urls, ents[url] = append(urls, url), d
		return nil
	}); err != nil {
		return err
	}
	r.order(urls)
	for _, u := range urls {
		if err := fn(u, ents[u]); err != nil {
			if errors.Is(err, fs.SkipAll) {
				return nil
			}
			return err
		}
	}
	return nil
}

// TestMergeOrders: the orphans step merges the walk with the rows sorted by
// url; whatever order the walk comes in, and with a pool of two connections
// (the stream takes no connection of its own, so it never waits on a pool
// the pass waits on), a pass finds the same orphans and dangling rows as one
// asking about every file and row — rows sharing a url, rows outside the walk (a shop's
// own files, a non-image in the product folder) with and without their
// file, and urls around a folder's name in byte order included.
func TestMergeOrders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		order     func(urls []string) // nil: the backend's own
		smallPool bool                // two connections: the pass lock's, which streams the rows, and one for the rest
	}{
		{name: "the backend's order"},
		{name: "reversed", order: slices.Reverse[[]string]},
		{name: "pairs swapped", order: func(u []string) {
			for i := 0; i+1 < len(u); i += 2 {
				u[i], u[i+1] = u[i+1], u[i]
			}
		}},
		{name: "first half sorted, second reversed", order: func(u []string) { slices.Reverse(u[len(u)/2:]) }},
		{name: "a pool of two connections", smallPool: true},
		{name: "reversed, a pool of two connections", order: slices.Reverse[[]string], smallPool: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			for i := 0; i < 7; i++ {
				f.image(false)
			}
			const prod = "/recursos/imagenes/productos/"
			withFile := []string{prod + "ab.png", prod + "ab/c.png", prod + "ab-c.png", prod + "ab0.png",
				"/recursos/css/sitio.png", prod + "marca.svg"}
			for _, u := range withFile {
				f.file(u)
				f.exec(`INSERT INTO producto_imagenes (url, orden) VALUES ($1, 1)`, u)
			}
			shared := prod + "compartida.jpg" // legacy rows sharing one file
			f.file(shared)
			f.exec(`INSERT INTO producto_imagenes (url, orden) VALUES ($1, 1), ($1, 2)`, shared)
			orphans := []string{prod + "ab/huerfana.png", storage.NewImageURL("png"), prod + "zz.webp"}
			for _, u := range orphans {
				f.file(u)
			}
			dangling := []string{prod + "ab/perdida.png", storage.NewImageURL("png"), "/recursos/css/perdido.png", prod + "a.png"}
			for _, u := range dangling {
				f.exec(`INSERT INTO producto_imagenes (url, orden) VALUES ($1, 1)`, u)
			}
			files := f.files
			if tt.order != nil {
				files = reordered{Backend: f.files, order: tt.order}
			}
			store, pool, proto := f.store, f.pool, f.proto
			if tt.smallPool {
				pc := f.pool.Config().Copy()
				pc.MaxConns = 2
				var err error
				if pool, err = pgxpool.NewWithConfig(context.Background(), pc); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(pool.Close)
				store = repo.New(pool)
				proto = trash.New(store, f.files, zap.NewNop())
			}
			j := janitor.New(janitor.Deps{Store: store, Files: files, Protocol: proto, PassLock: repo.NewPassLocks(pool),
				Now: f.clock, Log: zap.NewNop()})
			c := cfg()
			c.List = true
			// At the limit: a file taken for an orphan by mistake (its row
			// is found again under the lock) would make the pass refuse.
			c.MaxOrphans = len(orphans)
			want := map[string][]string{"orphans": sorted(orphans), "dangling": sorted(dangling)}
			for _, dry := range []bool{true, false} {
				c.DryRun = dry
				rep, err := j.Run(context.Background(), c)
				if err != nil {
					t.Fatalf("dry run %v: %v", dry, err)
				}
				if diff := cmp.Diff(want, itemURLs(rep)); diff != "" {
					t.Errorf("dry run %v: items (-want +got):\n%s", dry, diff)
				}
				// 7 images, the 4 product images of withFile, the shared one,
				// the orphans; sitio.png and marca.svg are no product images.
				if want := 7 + 4 + 1 + len(orphans); rep.FilesScanned != want {
					t.Errorf("dry run %v: %d files scanned, want %d", dry, rep.FilesScanned, want)
				}
			}
			for _, u := range orphans {
				if f.isLive(u) {
					t.Errorf("orphan %s still live", u)
				}
			}
			for _, u := range append(withFile, shared) {
				if !f.isLive(u) {
					t.Errorf("%s, which has a row, was moved", u)
				}
			}
		})
	}
}
