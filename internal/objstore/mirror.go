package objstore

import (
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/storage"
)

// Moving a storage folder into a bucket (`imagenes storage mirror`). The
// keys are the folder's paths, so a mirror is a copy of files to keys —
// but not of every file: what the bucket would never use, or the janitor
// would have to clean up after, stays behind, and the marker comes last.

// MirrorOptions says what a mirror may do.
type MirrorOptions struct {
	// Delete removes the bucket's objects (in the areas a mirror writes)
	// that the folder no longer has: for the second run, writers stopped,
	// after an image moved to the trash between the two runs.
	Delete bool
	// DryRun reports what would be copied and removed, changing nothing.
	DryRun bool
}

// MirrorReport counts what a mirror did (or, in a dry run, would do).
type MirrorReport struct {
	Copied      int   `json:"copied"`
	CopiedBytes int64 `json:"copied_bytes"`
	Unchanged   int   `json:"unchanged"` // already in the bucket with the same bytes
	Removed     int   `json:"removed"`
	// Left behind, on purpose: staged uploads (.tmp: a bucket needs no
	// staging and nothing would ever clean them there), thumbnails whose
	// original is gone (the janitor's next pass would sweep them), files
	// imagenes does not serve (outside recursos/, .papelera/, .miniaturas/)
	// and names the bucket backend refuses (hidden segments, control
	// characters: no url can reach them). Symlinks are never followed.
	Staging, StaleThumbs, Other, Unsafe int
}

// mirror is the area of a folder path: copied, or left behind and why.
type area int

const (
	areaCopy area = iota
	areaMarker
	areaStaging
	areaStaleThumb
	areaOther
	areaUnsafe
)

// classify says what becomes of the regular file at rel (slash path below
// the folder). live reports whether the folder has a regular file at a
// live url (a thumbnail's original).
func classify(rel string, live func(url string) bool) area {
	top, rest, _ := strings.Cut(rel, "/")
	switch {
	case rel == storage.MarkerName:
		return areaMarker
	case top == ".tmp":
		return areaStaging
	case top == "recursos":
		if _, err := storage.RelPath("/" + rel); err != nil {
			return areaUnsafe
		}
		return areaCopy
	case top == ".papelera":
		if storage.CheckTrashName(rest) != nil {
			return areaUnsafe
		}
		return areaCopy
	case top == storage.ThumbDir:
		if storage.CheckThumbKey(rest) != nil {
			return areaUnsafe
		}
		if u, ok := storage.ThumbOriginal(rest); !ok || !live(u) {
			return areaStaleThumb
		}
		return areaCopy
	}
	return areaOther
}

// MirrorFrom copies the storage folder dir into the bucket, key for key
// under the store's prefix: live files, trash files, thumbnails whose
// original is live, and last the marker, so that a mirror cut halfway
// leaves a bucket the janitor refuses to work on. An object already there
// with the same bytes (size and MD5 ETag) is not copied again, so a second
// run copies only what changed. Each object is one PUT (never multipart),
// so its ETag is its MD5, which the protocol's interrupted-move check
// relies on. dir must hold the marker: a folder without it is not a
// storage (a wrong path, an unmounted volume). note is told of every file
// left behind and every object removed.
func (s *Store) MirrorFrom(ctx context.Context, dir string, o MirrorOptions, note func(what, key string)) (MirrorReport, error) {
	var rep MirrorReport
	root, err := os.OpenRoot(dir)
	if err != nil {
		return rep, fmt.Errorf("open folder: %w", err)
	}
	defer root.Close()
	if fi, err := root.Lstat(storage.MarkerName); err != nil || !fi.Mode().IsRegular() {
		return rep, fmt.Errorf("%s has no %s: not a storage folder (a wrong path, an unmounted volume?)", dir, storage.MarkerName)
	}
	regular := func(rel string) bool {
		fi, err := root.Lstat(rel)
		return err == nil && fi.Mode().IsRegular()
	}
	live := func(url string) bool { return regular(strings.TrimPrefix(url, "/")) }
	visit := func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel == ".tmp" {
				rep.Staging += countFiles(root.FS(), rel)
				note("left behind (staging)", rel+"/")
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			rep.Unsafe++
			note("left behind (not a regular file)", rel)
			return nil
		}
		switch classify(rel, live) {
		case areaCopy:
			return s.mirrorFile(ctx, root, rel, o, &rep)
		case areaStaleThumb:
			rep.StaleThumbs++
			note("left behind (thumbnail of no live image)", rel)
		case areaOther:
			rep.Other++
			note("left behind (not served by imagenes)", rel)
		case areaUnsafe:
			rep.Unsafe++
			note("left behind (a name the bucket backend refuses)", rel)
		}
		return nil
	}
	// Originals before their thumbnails, so that no thumbnail is older
	// (by Last-Modified) than its original: the cache would take it for
	// stale and render it again.
	tops, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return rep, fmt.Errorf("read folder: %w", err)
	}
	order := map[string]int{"recursos": 1, ".papelera": 2, storage.ThumbDir: 3}
	slices.SortStableFunc(tops, func(a, b fs.DirEntry) int {
		return cmp.Compare(cmp.Or(order[a.Name()], 4), cmp.Or(order[b.Name()], 4))
	})
	for _, d := range tops {
		if d.Name() == storage.MarkerName {
			continue // last
		}
		if err := fs.WalkDir(root.FS(), d.Name(), visit); err != nil {
			return rep, err
		}
	}
	if o.Delete {
		if err := s.mirrorDelete(ctx, o, &rep, note, func(rel string) bool {
			return regular(rel) && classify(rel, live) == areaCopy
		}); err != nil {
			return rep, err
		}
	}
	return rep, s.mirrorFile(ctx, root, storage.MarkerName, o, &rep)
}

// mirrorFile PUTs the folder's file rel at its key unless the bucket has
// it already with the same bytes.
func (s *Store) mirrorFile(ctx context.Context, root *os.Root, rel string, o MirrorOptions, rep *MirrorReport) error {
	f, err := root.Open(rel)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	defer f.Close()
	h := md5.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	k := s.prefix + rel
	oi, err := s.stat(ctx, k)
	switch {
	case err == nil && oi.Size == size && strings.EqualFold(oi.ETag, hex.EncodeToString(h.Sum(nil))):
		rep.Unchanged++
		return nil
	case err != nil && !errors.Is(err, storage.ErrNotExist):
		return err
	}
	rep.Copied++
	rep.CopiedBytes += size
	if o.DryRun {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	ct := mime.TypeByExtension(path.Ext(rel))
	if ct == "" {
		ct = "application/octet-stream"
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	if _, err := s.c.PutObject(rctx, s.bucket, k, f, size, minio.PutObjectOptions{ContentType: ct, DisableMultipart: true}); err != nil {
		return s.fail("put", k, err)
	}
	return nil
}

// mirrorDelete removes the objects under the areas a mirror writes whose
// folder file would not be copied (gone, or left behind). Removing keys a
// listing has already returned does not disturb its next pages.
func (s *Store) mirrorDelete(ctx context.Context, o MirrorOptions, rep *MirrorReport, note func(what, key string), wanted func(rel string) bool) error {
	for _, top := range []string{"recursos/", ".papelera/", storage.ThumbDir + "/", ".tmp/"} {
		err := s.list(ctx, s.prefix+top, func(oi minio.ObjectInfo) error {
			rel := strings.TrimPrefix(oi.Key, s.prefix)
			if wanted(rel) {
				return nil
			}
			note("removed from the bucket (not in the folder)", rel)
			rep.Removed++
			if o.DryRun {
				return nil
			}
			return s.remove(ctx, oi.Key)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// countFiles counts the regular files below rel (for the report).
func countFiles(fsys fs.FS, rel string) int {
	n := 0
	_ = fs.WalkDir(fsys, rel, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}
