package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// seedCmd fills the database and the storage (STORAGE_DIR, or the bucket of
// STORAGE_URL) with n images for benchmarks and janitor measurements: files
// written by a few goroutines (objects by sixteen PUTs in flight), rows
// loaded with COPY in batches, a progress bar on a terminal. --orphans and
// --dangling add files without rows (aged past the grace period) and rows
// without files. Not for production data: it writes straight into the
// live folders or keys.
func seedCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	n := fs.Int("n", 20000, "images (rows with files)")
	size := fs.Int("bytes", 2048, "bytes per file")
	orphans := fs.Int("orphans", 0, "extra files without rows")
	dangling := fs.Int("dangling", 0, "extra rows without files")
	owner := fs.String("owner", "admin", "owner sub of the rows")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	if err := requireDatabase(cfg); err != nil {
		return err
	}
	files, err := openStorage(ctx, cfg)
	if err != nil {
		return err
	}
	defer files.Close()
	bucket, _ := files.(*objstore.Store)
	if bucket != nil && *orphans > 0 {
		// An orphan must be older than the grace to count, and an object's
		// Last-Modified is the time of its PUT: it cannot be set back.
		return fmt.Errorf("%w: --orphans needs a folder (STORAGE_DIR): a bucket's Last-Modified cannot be aged past JANITOR_ORPHAN_GRACE", errUsage)
	}
	if err := files.WriteMarker(ctx); err != nil {
		return err
	}
	pool, err := repo.OpenPool(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := repo.New(pool)
	first, err := store.MaxImagenID(ctx)
	if err != nil {
		return err
	}

	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(*n+*orphans+*dangling, progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("seeding"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	start := time.Now()
	content := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, max(*size-16, 0))...)
	aged := time.Now().Add(-cfg.JanitorOrphanGrace - time.Hour)
	const batch = 5000
	for done := 0; done < *n+*orphans+*dangling; {
		k := min(batch, *n+*orphans+*dangling-done)
		var rows []repo.NuevaImagen
		var write []string
		var age []bool
		for i := done; i < done+k; i++ {
			url := storage.NewImageURL("png")
			switch {
			case i < *n:
				rows, write, age = append(rows, repo.NuevaImagen{URL: url, Orden: 1, OwnerSub: *owner, Bytes: int64(len(content)), ContentType: "image/png"}), append(write, url), append(age, false)
			case i < *n+*orphans:
				write, age = append(write, url), append(age, true)
			default:
				rows = append(rows, repo.NuevaImagen{URL: url, Orden: 1, OwnerSub: *owner, Bytes: int64(len(content)), ContentType: "image/png"})
			}
		}
		if bucket != nil {
			err = putObjects(ctx, bucket, write, content)
		} else {
			err = writeFiles(cfg.StorageDir, write, age, content, aged)
		}
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			if _, err := store.CopyImagenes(ctx, rows, time.Now()); err != nil {
				return err
			}
		}
		done += k
		if bar != nil {
			_ = bar.Add(k)
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	// COPY takes ids from the sequence in order; with no concurrent
	// writer the images are first+1..first+n.
	ids := ""
	if *n > 0 {
		ids = fmt.Sprintf(" (ids %d..%d)", first+1, first+int32(*n))
	}
	fmt.Fprintf(stdout, "seeded %d images%s, %d orphans, %d dangling in %s\n",
		*n, ids, *orphans, *dangling, time.Since(start).Round(time.Millisecond))
	return nil
}

// writeFiles writes the live files of urls with four goroutines.
func writeFiles(root string, urls []string, aged []bool, content []byte, old time.Time) error {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(urls); i += 4 {
				rel, err := storage.RelPath(urls[i])
				if err != nil {
					errs <- err
					return
				}
				p := filepath.Join(root, filepath.FromSlash(rel))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					errs <- err
					return
				}
				if err := os.WriteFile(p, content, 0o644); err != nil {
					errs <- err
					return
				}
				if aged[i] {
					if err := os.Chtimes(p, old, old); err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// putObjects PUTs the live objects of urls, sixteen at a time: a PUT of a
// small object is a round trip and a durable write on the server, so the
// work is waiting and enough of them in flight keep the server busy.
func putObjects(ctx context.Context, s *objstore.Store, urls []string, content []byte) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, u := range urls {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { return s.PutLive(ctx, u, content, "image/png") })
	}
	return g.Wait()
}
