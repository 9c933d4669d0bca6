package objstore

import (
	"context"
	"io/fs"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/storage"
)

// File is an open live object: it streams (a read fetches from the server,
// never the whole object into memory) and seeks (each seek then read is a
// ranged GET, for a Range request). Close releases the connection.
type File struct {
	*minio.Object
	info   Info
	cancel context.CancelFunc
}

// Stat returns the object's info as it was when opened.
func (f *File) Stat() (fs.FileInfo, error) { return f.info, nil }

// Close ends the object's download.
func (f *File) Close() error {
	err := f.Object.Close()
	f.cancel()
	return err
}

// open GETs key as a streaming File; a missing key is storage.ErrNotExist.
func (s *Store) open(k string) (storage.File, error) {
	ctx, cancel := context.WithCancel(context.Background())
	o, err := s.c.GetObject(ctx, s.bucket, k, minio.GetObjectOptions{})
	if err != nil {
		cancel()
		return nil, s.fail("open", k, err)
	}
	oi, err := o.Stat()
	if err != nil {
		o.Close()
		cancel()
		return nil, s.fail("open", k, err)
	}
	return &File{Object: o, info: info(oi), cancel: cancel}, nil
}

// OpenLive opens the live object of url. A missing object is
// storage.ErrNotExist. The request that finds it is bounded by the time
// limit; the body then streams at the reader's pace.
func (s *Store) OpenLive(u string) (storage.File, error) {
	k, err := s.liveKey(u)
	if err != nil {
		return nil, err
	}
	return s.open(k)
}

// Presign returns a GET url of the live object of url valid for ttl, for
// serving by redirect. It checks the object exists first, so a missing
// image is still a 404 here rather than the store's own error page.
func (s *Store) Presign(u string, ttl time.Duration) (string, error) {
	k, err := s.liveKey(u)
	if err != nil {
		return "", err
	}
	if _, err := s.stat(k); err != nil {
		return "", err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	p, err := s.c.PresignedGetObject(ctx, s.bucket, k, ttl, url.Values{})
	if err != nil {
		return "", s.fail("presign", k, err)
	}
	return p.String(), nil
}
