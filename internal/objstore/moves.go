package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/fault"
	"github.com/imagenes/imagenes/internal/storage"
)

// stat returns the object's info; a missing key is storage.ErrNotExist.
// A HEAD's 404 has no body to say whether the key or the whole bucket is
// missing, so a missing key is confirmed by asking for the bucket: a
// deleted bucket must stop a delete (503), not let it record every file as
// already gone. The extra request is only paid on the missing path.
func (s *Store) stat(ctx context.Context, key string) (minio.ObjectInfo, error) {
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	oi, err := s.c.StatObject(rctx, s.bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return oi, nil
	}
	err = s.fail("stat", key, err)
	if errors.Is(err, storage.ErrNotExist) {
		if uerr := s.Usable(ctx); uerr != nil {
			return oi, uerr
		}
	}
	return oi, err
}

// exists reports whether key is there.
func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.stat(ctx, key)
	if errors.Is(err, storage.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// absent fails with fs.ErrExist when key exists: uploads never overwrite.
// Names are unique by construction (uuids), so the gap between this check
// and the PUT is not reachable by our own writers.
func (s *Store) absent(ctx context.Context, key string) error {
	ok, err := s.exists(ctx, key)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%q: %w", key, fs.ErrExist)
	}
	return nil
}

// same reports whether two objects hold the same bytes, by size and ETag:
// a server-side copy of a single-part object keeps its ETag (the MD5 of its
// bytes), and our objects are all single PUTs.
func same(a, b minio.ObjectInfo) bool {
	return a.Size == b.Size && a.ETag != "" && a.ETag == b.ETag
}

func (s *Store) remove(ctx context.Context, key string) error {
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	if err := s.c.RemoveObject(rctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if err := s.fail("remove", key, err); !errors.Is(err, storage.ErrNotExist) {
			return err
		}
	}
	return nil
}

// head is one HEAD of key. Unlike stat it does not confirm a 404 with a
// check of the bucket: move's next request (the copy, or the HEAD of a
// source in a bucket that just answered) tells a missing bucket apart by
// itself.
func (s *Store) head(ctx context.Context, key string) (minio.ObjectInfo, error) {
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	oi, err := s.c.StatObject(rctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return oi, s.fail("stat", key, err)
	}
	return oi, nil
}

// move is the object store's rename: a server-side copy then a delete of
// the source, three requests in all — a HEAD of dst, the copy, the delete.
// An error of the delete is not a "no" (STYLE, Faults): the copy is kept,
// so a failed move leaves the object at src, at dst, or at both, never
// under neither; the protocol treats it as not moved and the janitor
// settles what it left. A crash between the two leaves both too: a later
// move of the same object finds its copy already at dst and finishes by
// deleting the source; a different object at dst is fs.ErrExist (never
// overwritten). src missing is storage.ErrNotExist.
//
// A HEAD's 404 has no body, so it cannot say whether dst or the whole
// bucket is missing; the copy that follows can (its error body names
// NoSuchKey or NoSuchBucket), so a deleted bucket is still
// storage.ErrUnavailable — never a source "already gone" — without a check
// of the bucket per move. The copy reports a missing source the same way,
// which saves a HEAD of it. The source needs no If-Match: keys are never
// overwritten (uploads PUT with If-None-Match), so the object copied is
// the one the delete removes.
func (s *Store) move(ctx context.Context, src, dst string) error {
	di, err := s.head(ctx, dst)
	switch {
	case err == nil:
		// The bucket answered, so a 404 on src is src.
		oi, err := s.head(ctx, src)
		if err != nil {
			return err
		}
		if same(oi, di) {
			return s.remove(ctx, src) // the copy of an interrupted move: finish it
		}
		return fmt.Errorf("%q: %w", dst, fs.ErrExist)
	case !errors.Is(err, storage.ErrNotExist):
		return err
	}
	rctx, cancel := s.ctx(ctx)
	_, err = s.c.CopyObject(rctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: dst},
		minio.CopySrcOptions{Bucket: s.bucket, Object: src})
	cancel()
	if err != nil {
		return s.fail("copy to "+dst+" from", src, err)
	}
	fault.Point("move-copied") // both keys hold the object: what a crash here leaves
	if err := s.remove(ctx, src); err != nil {
		// The delete may have happened all the same: its answer lost after
		// the store carried it out, or the store holding it past the time
		// limit and carrying it out later. Removing the copy then would
		// leave the object under neither key, so both stay (or the copy
		// alone), as a crash here leaves them, for the janitor to settle by
		// the row, its lock and the entry.
		return fmt.Errorf("move to %q, the copy kept: %w", dst, err)
	}
	return nil
}

// MoveToTrash moves the live object of url to .papelera/trashName. A live
// object that does not exist is (false, nil): the caller notes it. An
// error may leave the object live, in the trash, or under both keys (see
// move): never under neither.
func (s *Store) MoveToTrash(ctx context.Context, url, trashName string) (moved bool, err error) {
	src, err := s.liveKey(url)
	if err != nil {
		return false, err
	}
	dst, err := s.trashKey(trashName)
	if err != nil {
		return false, err
	}
	err = s.move(ctx, src, dst)
	if errors.Is(err, storage.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// MoveFromTrash moves .papelera/trashName back to the live key of url. It
// refuses to overwrite a live object (fs.ErrExist) and reports a missing
// trash object as storage.ErrNotExist.
func (s *Store) MoveFromTrash(ctx context.Context, trashName, url string) error {
	src, err := s.trashKey(trashName)
	if err != nil {
		return err
	}
	dst, err := s.liveKey(url)
	if err != nil {
		return err
	}
	return s.move(ctx, src, dst)
}

// RenameTrash renames trash object from to to, refusing to overwrite.
func (s *Store) RenameTrash(ctx context.Context, from, to string) error {
	src, err := s.trashKey(from)
	if err != nil {
		return err
	}
	dst, err := s.trashKey(to)
	if err != nil {
		return err
	}
	return s.move(ctx, src, dst)
}

// RemoveTrash deletes .papelera/name for good; a missing object is fine.
func (s *Store) RemoveTrash(ctx context.Context, name string) error {
	k, err := s.trashKey(name)
	if err != nil {
		return err
	}
	return s.remove(ctx, k)
}

// RemoveLive deletes the live object of url; a missing object is fine.
// Used to undo an upload whose transaction did not commit, and by the
// janitor to settle a move cut between its copy and its delete.
func (s *Store) RemoveLive(ctx context.Context, url string) error {
	k, err := s.liveKey(url)
	if err != nil {
		return err
	}
	return s.remove(ctx, k)
}

// SameObject reports whether trash object name and the live object of url
// both exist and hold the same bytes (size and ETag): what a move cut
// between its copy and its delete leaves. The janitor's dry runs ask it
// instead of finishing the move.
func (s *Store) SameObject(ctx context.Context, name, url string) (bool, error) {
	tk, err := s.trashKey(name)
	if err != nil {
		return false, err
	}
	lk, err := s.liveKey(url)
	if err != nil {
		return false, err
	}
	a, err := s.stat(ctx, tk)
	if errors.Is(err, storage.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	b, err := s.stat(ctx, lk)
	if errors.Is(err, storage.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return same(a, b), nil
}

// LiveExists reports whether url has a live object.
func (s *Store) LiveExists(ctx context.Context, url string) (bool, error) {
	k, err := s.liveKey(url)
	if err != nil {
		return false, err
	}
	return s.exists(ctx, k)
}

// TrashExists reports whether the trash holds object name.
func (s *Store) TrashExists(ctx context.Context, name string) (bool, error) {
	k, err := s.trashKey(name)
	if err != nil {
		return false, err
	}
	return s.exists(ctx, k)
}

// LiveInfo returns the live object's size, Last-Modified and ETag.
func (s *Store) LiveInfo(ctx context.Context, url string) (fs.FileInfo, error) {
	k, err := s.liveKey(url)
	if err != nil {
		return nil, err
	}
	oi, err := s.stat(ctx, k)
	if err != nil {
		return nil, err
	}
	return info(oi), nil
}

// Info is an object's fs.FileInfo: a read-only regular file whose ModTime
// is the object's Last-Modified. Sys returns the minio.ObjectInfo.
type Info struct{ oi minio.ObjectInfo }

func info(oi minio.ObjectInfo) Info { return Info{oi} }

func (i Info) Name() string       { return path.Base(i.oi.Key) }
func (i Info) Size() int64        { return i.oi.Size }
func (i Info) Mode() fs.FileMode  { return 0o444 }
func (i Info) ModTime() time.Time { return i.oi.LastModified }
func (i Info) IsDir() bool        { return false }
func (i Info) Sys() any           { return i.oi }

// ETag is the object's entity tag as the server gave it (no quotes).
func (i Info) ETag() string { return i.oi.ETag }

// ContentType is the type stored with the object.
func (i Info) ContentType() string { return i.oi.ContentType }
