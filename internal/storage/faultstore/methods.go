package faultstore

import (
	"context"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/imagenes/imagenes/internal/storage"
)

// Each method is the wrapped store's, through do: a fault-hit call returns
// its zero answer with the fault's error, as a call whose answer never
// came does.

func (s *Store) MoveToTrash(ctx context.Context, url, trashName string) (bool, error) {
	var moved bool
	faulted, err := s.do(ctx, "MoveToTrash", url, func(ctx context.Context) (err error) {
		moved, err = s.Backend.MoveToTrash(ctx, url, trashName)
		return err
	})
	return moved && !faulted, err
}

func (s *Store) MoveFromTrash(ctx context.Context, trashName, url string) error {
	_, err := s.do(ctx, "MoveFromTrash", trashName, func(ctx context.Context) error {
		return s.Backend.MoveFromTrash(ctx, trashName, url)
	})
	return err
}

func (s *Store) RenameTrash(ctx context.Context, from, to string) error {
	_, err := s.do(ctx, "RenameTrash", from, func(ctx context.Context) error {
		return s.Backend.RenameTrash(ctx, from, to)
	})
	return err
}

func (s *Store) RemoveTrash(ctx context.Context, name string) error {
	_, err := s.do(ctx, "RemoveTrash", name, func(ctx context.Context) error {
		return s.Backend.RemoveTrash(ctx, name)
	})
	return err
}

func (s *Store) RemoveTrashBatch(ctx context.Context, names []string) (map[string]error, error) {
	var failed map[string]error
	faulted, err := s.do(ctx, "RemoveTrashBatch", strings.Join(names, " "), func(ctx context.Context) (err error) {
		failed, err = s.Backend.RemoveTrashBatch(ctx, names)
		return err
	})
	if faulted {
		return nil, err
	}
	return failed, err
}

func (s *Store) RemoveLive(ctx context.Context, url string) error {
	_, err := s.do(ctx, "RemoveLive", url, func(ctx context.Context) error {
		return s.Backend.RemoveLive(ctx, url)
	})
	return err
}

func (s *Store) LiveExists(ctx context.Context, url string) (bool, error) {
	var ok bool
	faulted, err := s.do(ctx, "LiveExists", url, func(ctx context.Context) (err error) {
		ok, err = s.Backend.LiveExists(ctx, url)
		return err
	})
	return ok && !faulted, err
}

func (s *Store) LiveInfo(ctx context.Context, url string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	faulted, err := s.do(ctx, "LiveInfo", url, func(ctx context.Context) (err error) {
		fi, err = s.Backend.LiveInfo(ctx, url)
		return err
	})
	if faulted {
		return nil, err
	}
	return fi, err
}

func (s *Store) TrashExists(ctx context.Context, name string) (bool, error) {
	var ok bool
	faulted, err := s.do(ctx, "TrashExists", name, func(ctx context.Context) (err error) {
		ok, err = s.Backend.TrashExists(ctx, name)
		return err
	})
	return ok && !faulted, err
}

// open is an Open* method through do; a file opened for a call whose
// answer is lost is closed.
func (s *Store) open(ctx context.Context, method, key string, call func(context.Context) (storage.File, error)) (storage.File, error) {
	var f storage.File
	faulted, err := s.do(ctx, method, key, func(ctx context.Context) (err error) {
		f, err = call(ctx)
		return err
	})
	if faulted {
		if f != nil {
			f.Close()
		}
		return nil, err
	}
	return f, err
}

func (s *Store) OpenLive(ctx context.Context, url string) (storage.File, error) {
	return s.open(ctx, "OpenLive", url, func(ctx context.Context) (storage.File, error) { return s.Backend.OpenLive(ctx, url) })
}

func (s *Store) OpenTrash(ctx context.Context, name string) (storage.File, error) {
	return s.open(ctx, "OpenTrash", name, func(ctx context.Context) (storage.File, error) { return s.Backend.OpenTrash(ctx, name) })
}

func (s *Store) OpenThumb(ctx context.Context, url string, w int, ext string) (storage.File, error) {
	return s.open(ctx, "OpenThumb", url, func(ctx context.Context) (storage.File, error) {
		return s.Backend.OpenThumb(ctx, url, w, ext)
	})
}

func (s *Store) Stage(ctx context.Context, r io.Reader, limit int64, allowed []string) (*storage.Staged, error) {
	var st *storage.Staged
	faulted, err := s.do(ctx, "Stage", "", func(ctx context.Context) (err error) {
		st, err = s.Backend.Stage(ctx, r, limit, allowed)
		return err
	})
	if faulted {
		if st != nil {
			s.Backend.Discard(context.WithoutCancel(ctx), st) //nolint:errcheck // the answer is lost; CleanStaging catches a leftover
		}
		return nil, err
	}
	return st, err
}

func (s *Store) Publish(ctx context.Context, st *storage.Staged, url string) error {
	_, err := s.do(ctx, "Publish", url, func(ctx context.Context) error { return s.Backend.Publish(ctx, st, url) })
	return err
}

func (s *Store) Discard(ctx context.Context, st *storage.Staged) error {
	_, err := s.do(ctx, "Discard", "", func(ctx context.Context) error { return s.Backend.Discard(ctx, st) })
	return err
}

func (s *Store) CleanStaging(ctx context.Context, olderThan time.Duration, now time.Time, dryRun bool) ([]string, error) {
	var names []string
	faulted, err := s.do(ctx, "CleanStaging", "", func(ctx context.Context) (err error) {
		names, err = s.Backend.CleanStaging(ctx, olderThan, now, dryRun)
		return err
	})
	if faulted {
		return nil, err
	}
	return names, err
}

func (s *Store) WalkLive(ctx context.Context, fn func(url string, d fs.DirEntry) error) error {
	_, err := s.do(ctx, "WalkLive", "", func(ctx context.Context) error { return s.Backend.WalkLive(ctx, fn) })
	return err
}

func (s *Store) WalkTrash(ctx context.Context, fn func(name string, info fs.FileInfo) error) error {
	_, err := s.do(ctx, "WalkTrash", "", func(ctx context.Context) error { return s.Backend.WalkTrash(ctx, fn) })
	return err
}

func (s *Store) WalkThumbs(ctx context.Context, fn func(key string) error) error {
	_, err := s.do(ctx, "WalkThumbs", "", func(ctx context.Context) error { return s.Backend.WalkThumbs(ctx, fn) })
	return err
}

func (s *Store) MarkerExists(ctx context.Context) (bool, error) {
	var ok bool
	faulted, err := s.do(ctx, "MarkerExists", "", func(ctx context.Context) (err error) {
		ok, err = s.Backend.MarkerExists(ctx)
		return err
	})
	return ok && !faulted, err
}

func (s *Store) WriteMarker(ctx context.Context) error {
	_, err := s.do(ctx, "WriteMarker", "", s.Backend.WriteMarker)
	return err
}

func (s *Store) Usable(ctx context.Context) error {
	_, err := s.do(ctx, "Usable", "", s.Backend.Usable)
	return err
}

func (s *Store) WriteThumb(ctx context.Context, url string, w int, ext string, data []byte) error {
	_, err := s.do(ctx, "WriteThumb", url, func(ctx context.Context) error {
		return s.Backend.WriteThumb(ctx, url, w, ext, data)
	})
	return err
}

func (s *Store) RemoveThumb(ctx context.Context, key string) error {
	_, err := s.do(ctx, "RemoveThumb", key, func(ctx context.Context) error { return s.Backend.RemoveThumb(ctx, key) })
	return err
}

func (s *Store) SameObject(ctx context.Context, name, url string) (bool, error) {
	var same bool
	faulted, err := s.do(ctx, "SameObject", name, func(ctx context.Context) (err error) {
		same, err = s.Backend.SameObject(ctx, name, url)
		return err
	})
	return same && !faulted, err
}

func (s *Store) Presign(ctx context.Context, url string, ttl time.Duration) (string, error) {
	var u string
	faulted, err := s.do(ctx, "Presign", url, func(ctx context.Context) (err error) {
		u, err = s.Backend.Presign(ctx, url, ttl)
		return err
	})
	if faulted {
		return "", err
	}
	return u, err
}
