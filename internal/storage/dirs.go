package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxCachedDirs bounds the folders a Storage keeps open for the request
// path (the fan-out has 257 with the trash; legacy layouts may have more,
// and beyond this they take the slower os.Root path).
const maxCachedDirs = 4096

// dirCache keeps the folders of the request path open, each opened once
// through the os.Root (so it is inside the root, whatever symlinks say), so
// a move is one fstatat and one renameat2 on folder descriptors instead of
// resolving both paths component by component through the root for every
// call: that resolution was 30% of the server's CPU in a delete.
type dirCache struct {
	m sync.Map // folder (root-relative) → *os.File
	n atomic.Int32
}

// dir returns the open folder name, or ok=false when the cache is full.
func (s *Storage) dir(name string) (d *os.File, ok bool, err error) {
	if v, hit := s.dirs.m.Load(name); hit {
		return v.(*os.File), true, nil
	}
	if s.dirs.n.Load() >= maxCachedDirs {
		return nil, false, nil
	}
	d, err = s.root.Open(name)
	if err != nil {
		return nil, false, classify("open", name, err)
	}
	if v, loaded := s.dirs.m.LoadOrStore(name, d); loaded {
		d.Close()
		return v.(*os.File), true, nil
	}
	s.dirs.n.Add(1)
	return d, true, nil
}

func (c *dirCache) close() {
	c.m.Range(func(k, v any) bool {
		v.(*os.File).Close()
		c.m.Delete(k)
		return true
	})
	c.n.Store(0)
}

// errFallback: take the os.Root path (cache full, or a filesystem without
// renameat2's RENAME_NOREPLACE).
var errFallback = errors.New("use the os.Root path")

// moveToTrashAt is MoveToTrash on cached folder descriptors. src is the
// cleaned root-relative live path, name a checked trash name.
func (s *Storage) moveToTrashAt(src, name string) (bool, error) {
	dir, base := path.Split(src)
	sd, ok, err := s.dir(path.Clean(dir))
	if errors.Is(err, ErrNotExist) {
		return false, nil // no folder, no file
	}
	if err != nil || !ok {
		return false, errors.Join(err, errFallbackIf(!ok))
	}
	td, ok, err := s.dir(trashDir)
	if err != nil || !ok {
		return false, errors.Join(err, errFallbackIf(!ok))
	}
	defer runtime.KeepAlive(sd)
	defer runtime.KeepAlive(td)
	var st unix.Stat_t
	switch err := unix.Fstatat(int(sd.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return false, nil
	case err != nil:
		return false, classify("stat", src, err)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return false, fmt.Errorf("%q is not a regular file: %w", src, ErrUnsafePath)
	}
	err = unix.Renameat2(int(sd.Fd()), base, int(td.Fd()), name, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		s.sync.mark(td)
		return true, nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		return false, errFallback
	case errors.Is(err, unix.EEXIST):
		return false, fmt.Errorf("%q: %w", trashDir+"/"+name, fs.ErrExist)
	case errors.Is(err, unix.ENOENT):
		return false, nil // gone between the stat and the rename
	}
	return false, classify("move to trash", src, err)
}

func errFallbackIf(b bool) error {
	if b {
		return errFallback
	}
	return nil
}
