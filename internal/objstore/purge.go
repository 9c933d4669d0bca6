package objstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/storage"
)

// maxDeleteKeys is how many keys one multi-object delete carries: S3's
// DeleteObjects takes at most 1 000.
const maxDeleteKeys = 1000

// errNoAnswer is a key a multi-object delete's answer did not name: it may
// or may not have been deleted.
var errNoAnswer = errors.New("the multi-object delete's answer does not name the key")

// RemoveTrashBatch deletes the trash objects names for good, in
// multi-object deletes (S3 DeleteObjects, up to 1 000 keys a request) where
// one DELETE per object made a purge of K entries cost K requests. An
// object already gone counts as removed.
//
// Only a key the answer reports deleted is removed: a key it reports with an
// error, or does not name at all, is in failed with its error, and its
// caller keeps it (the janitor keeps its entry for the next pass). err is a
// request that failed as a whole (a store that cannot answer: ErrUnavailable,
// or ctx ended): the keys of that request and of those not sent are in
// failed too, and any of them may have been deleted all the same.
func (s *Store) RemoveTrashBatch(ctx context.Context, names []string) (failed map[string]error, err error) {
	failed = make(map[string]error)
	byKey := make(map[string]string, len(names))
	keys := make([]string, 0, len(names))
	for _, n := range names {
		k, kerr := s.trashKey(n)
		if kerr != nil {
			failed[n] = kerr
			continue
		}
		if _, dup := byKey[k]; !dup {
			byKey[k] = n
			keys = append(keys, k)
		}
	}
	for chunk := range slices.Chunk(keys, maxDeleteKeys) {
		if err != nil {
			for _, k := range chunk {
				failed[byKey[k]] = err
			}
			continue
		}
		err = s.removeChunk(ctx, chunk, byKey, failed)
	}
	return failed, err
}

// removeChunk sends one multi-object delete of keys (at most
// maxDeleteKeys) and records in failed each key not reported deleted.
func (s *Store) removeChunk(ctx context.Context, keys []string, byKey map[string]string, failed map[string]error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	objs := func(yield func(minio.ObjectInfo) bool) {
		for _, k := range keys {
			if !yield(minio.ObjectInfo{Key: k}) {
				return
			}
		}
	}
	res, err := s.c.RemoveObjectsWithIter(ctx, s.bucket, objs, minio.RemoveObjectsOptions{})
	if err != nil {
		err = s.fail("remove trash batch", s.bucket, err)
		for _, k := range keys {
			failed[byKey[k]] = err
		}
		return err
	}
	answered := make(map[string]bool, len(keys))
	var whole error
	for r := range res {
		n, ours := byKey[r.ObjectName]
		switch {
		case !ours:
			// No key of ours: an answer that could not be read at all.
			if r.Err != nil && whole == nil {
				whole = s.fail("remove trash batch", s.bucket, r.Err)
			}
			continue
		case r.Err == nil:
			answered[r.ObjectName] = true
			continue
		}
		kerr := s.fail("remove", r.ObjectName, r.Err)
		if errors.Is(kerr, storage.ErrNotExist) {
			answered[r.ObjectName] = true // already gone
			continue
		}
		if e := minio.ToErrorResponse(r.Err); e.StatusCode != 0 || e.Code == "" {
			// The request failed as a whole (minio-go reports its error
			// once per key): no key of it was answered.
			if whole == nil {
				whole = kerr
			}
		}
		answered[r.ObjectName] = true
		failed[n] = kerr
	}
	for _, k := range keys {
		if answered[k] {
			continue
		}
		if whole != nil {
			failed[byKey[k]] = whole
		} else {
			failed[byKey[k]] = fmt.Errorf("remove %q: %w: %w", k, storage.ErrUnavailable, errNoAnswer)
		}
	}
	if whole == nil && ctx.Err() != nil {
		whole = fmt.Errorf("remove trash batch: %w: %w", storage.ErrUnavailable, ctx.Err())
	}
	return whole
}
