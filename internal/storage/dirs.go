package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxCachedDirs bounds the folders a Storage keeps open (the fan-out has
// 257 with the trash; a legacy layout with more opens the rest per call).
const maxCachedDirs = 4096

// dirCache keeps folders open, each opened once through the os.Root (so it
// is inside the root, whatever symlinks say). A move or a stat is then one
// syscall on a folder descriptor instead of resolving the path component by
// component through the root on every call: that resolution was 30% of the
// server's CPU in a delete, and most of the janitor's dangling scan.
type dirCache struct {
	m   sync.Map // folder (root-relative) → *os.File
	n   atomic.Int32
	max int32 // maxCachedDirs; tests lower it to reach the full cache
}

// dir returns the open folder name and a release to call when done with it
// (a no-op for a cached folder; a close when the cache is full).
func (s *Storage) dir(name string) (*os.File, func(), error) {
	if v, hit := s.dirs.m.Load(name); hit {
		return v.(*os.File), func() {}, nil
	}
	d, err := s.root.Open(name)
	if err != nil {
		return nil, nil, classify("open", name, err)
	}
	if s.dirs.n.Load() >= s.dirs.max {
		return d, func() { d.Close() }, nil
	}
	if v, loaded := s.dirs.m.LoadOrStore(name, d); loaded {
		d.Close()
		return v.(*os.File), func() {}, nil
	}
	s.dirs.n.Add(1)
	return d, func() {}, nil
}

func (c *dirCache) close() {
	c.m.Range(func(k, v any) bool {
		v.(*os.File).Close()
		c.m.Delete(k)
		return true
	})
	c.n.Store(0)
}

// statAt reports, without following a final symlink, whether base exists
// in folder d and is a regular file. Something else there (a symlink, a
// folder) is ErrUnsafePath: never an image of ours.
func statAt(d *os.File, base, rel string) (exists bool, err error) {
	var st unix.Stat_t
	switch err := unix.Fstatat(int(d.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return false, nil
	case err != nil:
		return false, classify("stat", rel, err)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return true, fmt.Errorf("%q is not a regular file: %w", rel, ErrUnsafePath)
	}
	return true, nil
}

// liveExists is LiveExists on folder descriptors; rel is a checked live path.
func (s *Storage) liveExists(rel string) (bool, error) {
	dir, base := path.Split(rel)
	d, release, err := s.dir(path.Clean(dir))
	if errors.Is(err, ErrNotExist) {
		return false, nil // no folder, no file
	}
	if err != nil {
		return false, err
	}
	defer release()
	return statAt(d, base, rel)
}

// moveToTrash is MoveToTrash on folder descriptors. src is the checked
// live path, name a checked trash name.
func (s *Storage) moveToTrash(src, name string) (bool, error) {
	dir, base := path.Split(src)
	sd, releaseSrc, err := s.dir(path.Clean(dir))
	if errors.Is(err, ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer releaseSrc()
	td, releaseTrash, err := s.dir(trashDir)
	if err != nil {
		return false, err
	}
	defer releaseTrash()
	if exists, err := statAt(sd, base, src); !exists || err != nil {
		return false, err
	}
	err = unix.Renameat2(int(sd.Fd()), base, int(td.Fd()), name, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// A filesystem without RENAME_NOREPLACE: check, then rename. Names
		// are unique by construction, so the gap is not reachable by us.
		if exists, serr := statAt(td, name, trashDir+"/"+name); exists || serr != nil {
			return false, errors.Join(serr, fmt.Errorf("%q: %w", trashDir+"/"+name, fs.ErrExist))
		}
		err = unix.Renameat(int(sd.Fd()), base, int(td.Fd()), name)
	}
	switch {
	case err == nil:
		s.sync.mark(trashDir)
		return true, nil
	case errors.Is(err, unix.EEXIST):
		return false, fmt.Errorf("%q: %w", trashDir+"/"+name, fs.ErrExist)
	case errors.Is(err, unix.ENOENT):
		return false, nil // gone between the stat and the rename
	}
	return false, classify("move to trash", src, err)
}
