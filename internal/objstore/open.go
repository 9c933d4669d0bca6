package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/storage"
)

// File is an open live object: it streams (a read fetches from the server,
// never the whole object into memory) and seeks (each seek then read is a
// ranged GET, for a Range request). Close releases the connection.
//
// The download has no overall deadline — an image streams to a slow phone
// at the phone's pace — but the server must keep up: one Read (or ReadAt)
// that gets nothing for the store's time limit cancels the download and
// fails with storage.ErrUnavailable. The timer runs only inside a read, so
// a slow reader is never cut; a stalled server always is.
type File struct {
	obj     *minio.Object
	key     string
	info    Info
	timeout time.Duration
	ctx     context.Context
	stall   *time.Timer // cancels ctx when armed for longer than timeout
	cancel  context.CancelFunc
}

// Stat returns the object's info as it was when opened.
func (f *File) Stat() (fs.FileInfo, error) { return f.info, nil }

// Read reads from the object's body, bounded by the time limit.
func (f *File) Read(p []byte) (int, error) {
	f.stall.Reset(f.timeout)
	n, err := f.obj.Read(p)
	return n, f.check(err)
}

// ReadAt reads a range of the object, bounded by the time limit.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.stall.Reset(f.timeout)
	n, err := f.obj.ReadAt(p, off)
	return n, f.check(err)
}

// Seek moves the next read's start; it sends nothing (the object's info
// was fetched by open), the next Read does.
func (f *File) Seek(offset int64, whence int) (int64, error) { return f.obj.Seek(offset, whence) }

// check stops the read's timer and names a read the timer cut.
func (f *File) check(err error) error {
	f.stall.Stop()
	if err == nil || errors.Is(err, io.EOF) || f.ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("read %q: nothing received for %s: %w", f.key, f.timeout, storage.ErrUnavailable)
}

// Close ends the object's download.
func (f *File) Close() error {
	f.stall.Stop()
	err := f.obj.Close()
	f.cancel()
	return err
}

// open GETs key as a streaming File; a missing key is storage.ErrNotExist.
// The request that finds the object (up to its answer's headers) is bounded
// by the caller's ctx and the store's time limit, as every other request
// is; then the body streams under File's per-read limit, past the caller's
// ctx: a route's answer streams after its handler (and its REQUEST_TIMEOUT
// context) returned. One context serves both: a timer cancels it, armed
// while open waits and while a Read does, and ctx cancels it while open
// waits.
func (s *Store) open(ctx context.Context, k string) (storage.File, error) {
	fctx, cancel := context.WithCancel(context.Background())
	stall := time.AfterFunc(s.timeout, cancel)
	caller := context.AfterFunc(ctx, cancel)
	fail := func(err error) error {
		if cerr := ctx.Err(); cerr != nil {
			// The caller's ending, not the cancellation it caused.
			err = fmt.Errorf("%w: %v", cerr, err)
		}
		return s.fail("open", k, err)
	}
	o, err := s.c.GetObject(fctx, s.bucket, k, minio.GetObjectOptions{})
	if err != nil {
		caller()
		stall.Stop()
		cancel()
		return nil, fail(err)
	}
	oi, err := o.Stat() // the GET itself: minio-go sends it on first use
	released := caller()
	stall.Stop()
	if err == nil && (fctx.Err() != nil || !released) {
		// Answered as the timer fired or the caller left: the body is
		// cancelled already.
		err = context.DeadlineExceeded
	}
	if err != nil {
		o.Close()
		cancel()
		return nil, fail(err)
	}
	return &File{obj: o, key: k, info: info(oi), timeout: s.timeout, ctx: fctx, stall: stall, cancel: cancel}, nil
}

// OpenLive opens the live object of url. A missing object is
// storage.ErrNotExist. The request that finds it is bounded by the time
// limit; the body then streams at the reader's pace (see File).
func (s *Store) OpenLive(ctx context.Context, u string) (storage.File, error) {
	k, err := s.liveKey(u)
	if err != nil {
		return nil, err
	}
	return s.open(ctx, k)
}

// Presign returns a GET url of the live object of url valid for ttl, for
// serving by redirect. It checks the object exists first, so a missing
// image is still a 404 here rather than the store's own error page.
func (s *Store) Presign(ctx context.Context, u string, ttl time.Duration) (string, error) {
	k, err := s.liveKey(u)
	if err != nil {
		return "", err
	}
	if _, err := s.stat(ctx, k); err != nil {
		return "", err
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	p, err := s.c.PresignedGetObject(rctx, s.bucket, k, ttl, url.Values{})
	if err != nil {
		return "", s.fail("presign", k, err)
	}
	return p.String(), nil
}
