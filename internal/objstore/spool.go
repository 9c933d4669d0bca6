package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/fault"
	"github.com/imagenes/imagenes/internal/storage"
)

// Stage copies an upload into a local spool file while its type, size and
// hash are judged (storage.CopyImage), so nothing reaches the bucket before
// it is accepted and the PUT knows its length. Memory does not grow with
// the file. On any error nothing is left in the spool.
func (s *Store) Stage(ctx context.Context, r io.Reader, limit int64, allowed []string) (_ *storage.Staged, err error) {
	f, err := os.CreateTemp(s.spool, "*.part")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(f.Name()) //nolint:errcheck // best effort; CleanStaging catches leftovers
		}
	}()
	st, err := storage.CopyImage(f, r, limit, allowed)
	if err != nil {
		return nil, err
	}
	st.Name = filepath.Base(f.Name())
	return st, nil
}

// Publish PUTs the spooled upload at the live key of url. A PUT is atomic:
// the object appears whole or not at all, so no staging key is needed; the
// caller holds the url's advisory lock until its commit, so the janitor
// never takes it for an orphan meanwhile. It never overwrites (If-None-Match
// on the PUT, and a check first for servers that ignore it). The spool file
// is removed once the object is there.
func (s *Store) Publish(ctx context.Context, st *storage.Staged, url string) error {
	k, err := s.liveKey(url)
	if err != nil {
		return err
	}
	if err := s.absent(ctx, k); err != nil {
		return err
	}
	p := filepath.Join(s.spool, st.Name)
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("open spooled upload: %w", err)
	}
	defer f.Close()
	if err := s.put(ctx, k, f, st.Size, st.ContentType); err != nil {
		return err
	}
	fault.Point("upload-put") // the object is in the bucket, the row not committed
	f.Close()
	os.Remove(p) //nolint:errcheck // the upload is in the bucket; CleanStaging catches a leftover
	return nil
}

// put writes r (size bytes) at key k in one PUT that never overwrites
// (If-None-Match: *): an object already there is fs.ErrExist.
func (s *Store) put(ctx context.Context, k string, r io.Reader, size int64, contentType string) error {
	opts := minio.PutObjectOptions{ContentType: contentType, SendContentMd5: false}
	opts.SetMatchETagExcept("*")
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	if _, err := s.c.PutObject(rctx, s.bucket, k, r, size, opts); err != nil {
		if err := s.fail("put", k, err); errors.Is(err, errPrecondition) {
			return fmt.Errorf("%q: %w", k, fs.ErrExist)
		}
		return s.fail("put", k, err)
	}
	return nil
}

// PutLive writes data as the live object of url in one PUT, without the
// spool and without the upload's existence check, refusing to overwrite
// (fs.ErrExist). For `imagenes seed`, which fills a bucket with tens of
// thousands of objects for benchmarks; uploads go through Stage and Publish.
func (s *Store) PutLive(ctx context.Context, url string, data []byte, contentType string) error {
	k, err := s.liveKey(url)
	if err != nil {
		return err
	}
	return s.put(ctx, k, bytes.NewReader(data), int64(len(data)), contentType)
}

// Discard removes a spooled upload; a missing one is fine.
func (s *Store) Discard(ctx context.Context, st *storage.Staged) error {
	if st == nil {
		return nil
	}
	if err := os.Remove(filepath.Join(s.spool, st.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("discard %q: %w", st.Name, err)
	}
	return nil
}

// CleanStaging removes spool files older than olderThan (left by a handler
// that died) and returns their names; with dryRun it removes nothing and
// returns the names it would remove. The spool is this process's own
// temporary folder, so it never touches another replica's uploads.
func (s *Store) CleanStaging(ctx context.Context, olderThan time.Duration, now time.Time, dryRun bool) ([]string, error) {
	ents, err := os.ReadDir(s.spool)
	if err != nil {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	var stale []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < olderThan {
			continue
		}
		if dryRun {
			stale = append(stale, e.Name())
			continue
		}
		switch err := os.Remove(filepath.Join(s.spool, e.Name())); {
		case err == nil:
			stale = append(stale, e.Name())
		case !errors.Is(err, fs.ErrNotExist):
			return stale, fmt.Errorf("remove spooled upload: %w", err)
		}
	}
	return stale, nil
}
