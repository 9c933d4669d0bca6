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
//
// A descriptor follows its folder wherever it goes: an operator who renames
// .papelera away and makes a new one (or restores a backup of a folder)
// would leave every later move renaming files into the old folder, out of
// the new one's sight, and the group fsync syncing it. So each use checks,
// with one fstatat from the root's descriptor (resolved by the kernel, not
// component by component), that the name still names the folder the
// descriptor holds, and opens it again when not.
type dirCache struct {
	m   sync.Map // folder (root-relative) → *cachedDir
	n   atomic.Int32
	max int32    // maxCachedDirs; tests lower it to reach the full cache
	top *os.File // the root folder itself, for the fstatat of each use

	// retired are the descriptors of replaced folders: another call may
	// still be using one, so they are closed with the cache, not at once
	// (as many as folders were replaced).
	retiredMu sync.Mutex
	retired   []*os.File
}

// cachedDir is an open folder and the identity it had when opened.
type cachedDir struct {
	f        *os.File
	dev, ino uint64
}

// current reports whether name, looked up afresh, is still the folder c
// holds. An error (the folder gone) says no: opening it again reports it.
func (c *dirCache) current(d *cachedDir, name string) bool {
	if c.top == nil {
		return true
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(c.top.Fd()), name, &st, 0); err != nil {
		return false
	}
	return uint64(st.Dev) == d.dev && st.Ino == d.ino
}

// dir returns the open folder name and a release to call when done with it
// (a no-op for a cached folder; a close when the cache is full).
func (s *Storage) dir(name string) (*os.File, func(), error) {
	if v, hit := s.dirs.m.Load(name); hit {
		d := v.(*cachedDir)
		if s.dirs.current(d, name) {
			return d.f, func() {}, nil
		}
		if s.dirs.m.CompareAndDelete(name, v) {
			s.dirs.n.Add(-1)
			s.dirs.retiredMu.Lock()
			s.dirs.retired = append(s.dirs.retired, d.f)
			s.dirs.retiredMu.Unlock()
		}
	}
	f, err := s.root.Open(name)
	if err != nil {
		return nil, nil, classify("open", name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, nil, classify("stat", name, err)
	}
	if s.dirs.n.Load() >= s.dirs.max {
		return f, func() { f.Close() }, nil
	}
	d := &cachedDir{f: f, dev: uint64(st.Dev), ino: st.Ino}
	if v, loaded := s.dirs.m.LoadOrStore(name, d); loaded {
		f.Close()
		return v.(*cachedDir).f, func() {}, nil
	}
	s.dirs.n.Add(1)
	return f, func() {}, nil
}

func (c *dirCache) close() {
	c.m.Range(func(k, v any) bool {
		v.(*cachedDir).f.Close()
		c.m.Delete(k)
		return true
	})
	c.n.Store(0)
	c.retiredMu.Lock()
	for _, f := range c.retired {
		f.Close()
	}
	c.retired = nil
	c.retiredMu.Unlock()
	if c.top != nil {
		c.top.Close() // a later use fails its fstatat, and the closed root refuses to open
	}
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
