package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// thumbDir holds thumbnails: derived data, rebuilt on demand, so it is
// never backed up nor reconciled against the table — only swept of entries
// whose original is gone.
const thumbDir = ".miniaturas"

// ThumbKey is the cache path (below the storage root, or the bucket's
// prefix) of the thumbnail of url at width w, encoded as ext ("png" or
// "jpg"): .miniaturas/<w>/<url without /recursos/>.<ext>. The original's
// url is the path minus the width folder and the last extension, so the
// janitor can tell from a name alone whose thumbnail it is. Both backends
// use it, so a cache moved between them keeps its meaning.
func ThumbKey(url string, w int, ext string) (string, error) {
	rel, err := RelPath(url)
	if err != nil {
		return "", err
	}
	if w < 1 || (ext != "png" && ext != "jpg") {
		return "", fmt.Errorf("%w: thumbnail %d %q", ErrUnsafePath, w, ext)
	}
	return thumbDir + "/" + strconv.Itoa(w) + "/" + strings.TrimPrefix(rel, liveDir+"/") + "." + ext, nil
}

// ThumbOriginal returns the url of the original of the thumbnail at key (a
// path below .miniaturas/, as WalkThumbs gives it); ok is false for a name
// no thumbnail of ours has.
func ThumbOriginal(key string) (url string, ok bool) {
	w, rest, found := strings.Cut(key, "/")
	if !found {
		return "", false
	}
	if n, err := strconv.Atoi(w); err != nil || n < 1 {
		return "", false
	}
	ext := path.Ext(rest)
	if ext != ".png" && ext != ".jpg" {
		return "", false
	}
	url = LivePrefix + strings.TrimSuffix(rest, ext)
	if _, err := RelPath(url); err != nil {
		return "", false
	}
	return url, true
}

// OpenThumb opens the cached thumbnail of url at width w (ext "png" or
// "jpg"); a missing one is ErrNotExist.
func (s *Storage) OpenThumb(ctx context.Context, url string, w int, ext string) (File, error) {
	p, err := ThumbKey(url, w, ext)
	if err != nil {
		return nil, err
	}
	if _, err := s.regular(p); err != nil {
		return nil, err
	}
	f, err := s.root.OpenFile(p, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return nil, classify("open", p, err)
	}
	return f, nil
}

// WriteThumb stores data as the thumbnail of url at width w. It writes to
// staging and renames into place, so a reader never sees half a file; a
// crash leaves only a staging file that CleanStaging removes. No fsync: a
// thumbnail lost to a power cut is generated again.
func (s *Storage) WriteThumb(ctx context.Context, url string, w int, ext string, data []byte) error {
	p, err := ThumbKey(url, w, ext)
	if err != nil {
		return err
	}
	if err := started(ctx, "write thumbnail", p); err != nil {
		return err
	}
	if err := s.root.MkdirAll(path.Dir(p), 0o755); err != nil {
		return classify("create folder", path.Dir(p), err)
	}
	tmp := stagingDir + "/" + uuid.NewString() + ".part"
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return classify("create", tmp, err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		s.root.Remove(tmp) //nolint:errcheck // best effort; CleanStaging catches leftovers
		return fmt.Errorf("write thumbnail: %w", spaceError(err))
	}
	if err := s.root.Rename(tmp, p); err != nil {
		s.root.Remove(tmp) //nolint:errcheck // best effort
		return classify("publish thumbnail", p, err)
	}
	return nil
}

// CheckThumbKey validates a key as WalkThumbs gives it (a path below
// .miniaturas/): no "..", no absolute path, no backslash or NUL.
func CheckThumbKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("%w: thumbnail %q", ErrUnsafePath, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: thumbnail %q", ErrUnsafePath, key)
		}
	}
	return nil
}

// ThumbDir is the folder (or key prefix) of the thumbnail cache.
const ThumbDir = thumbDir

// RemoveThumb deletes the cached thumbnail at key (below .miniaturas/); a
// missing one is fine.
func (s *Storage) RemoveThumb(ctx context.Context, key string) error {
	p := thumbDir + "/" + key
	if err := CheckThumbKey(key); err != nil {
		return err
	}
	if err := started(ctx, "remove", p); err != nil {
		return err
	}
	if err := s.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return classify("remove", p, err)
	}
	return nil
}

// WalkThumbs calls fn for every file below .miniaturas/ with its key (its
// path below that folder), in batches per folder. Symlinks are skipped.
// fn returning fs.SkipAll stops the walk without error.
func (s *Storage) WalkThumbs(ctx context.Context, fn func(key string) error) error {
	if _, err := s.root.Lstat(thumbDir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	err := s.walkFiles(ctx, thumbDir, fn)
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

// walkFiles calls fn with the path below root of every regular file under
// dir, reading folders in batches.
func (s *Storage) walkFiles(ctx context.Context, dir string, fn func(rel string) error) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return classify("open", dir, err)
	}
	defer d.Close()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("walk %s: %w", dir, err)
		}
		ents, rerr := d.ReadDir(readDirBatch)
		for _, e := range ents {
			p := path.Join(dir, e.Name())
			switch {
			case e.Type()&fs.ModeSymlink != 0:
			case e.IsDir():
				if err := s.walkFiles(ctx, p, fn); err != nil {
					return err
				}
			case e.Type().IsRegular():
				if err := fn(strings.TrimPrefix(p, thumbDir+"/")); err != nil {
					return err
				}
			}
		}
		if errors.Is(rerr, io.EOF) || (rerr == nil && len(ents) == 0) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read %s: %w", dir, rerr)
		}
	}
}

// OpenTrash opens trash file name for reading (the admin's preview of a
// trashed image).
func (s *Storage) OpenTrash(ctx context.Context, name string) (File, error) {
	p, err := trashPath(name)
	if err != nil {
		return nil, err
	}
	return s.openRegular(p)
}
