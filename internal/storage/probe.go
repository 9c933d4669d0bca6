package storage

import (
	"errors"
	"io/fs"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// proberDirs bounds how many folders a Prober keeps open (the fan-out has
// 256; legacy layouts may have more).
const proberDirs = 1024

// Prober answers "does this url have a live file?" for many urls in a row,
// as the janitor asks for every row: it keeps the folders it opened through
// the root open and asks each with one fstatat, instead of resolving the
// whole path component by component every time. Not safe for concurrent
// use; Close it when done.
type Prober struct {
	s    *Storage
	dirs map[string]*os.File
}

// NewProber returns a Prober over s.
func (s *Storage) NewProber() *Prober {
	return &Prober{s: s, dirs: map[string]*os.File{}}
}

// Exists reports whether url names a regular live file. A symlink or a
// folder is not one (the service never serves them); a url outside the
// root is ErrUnsafePath.
func (p *Prober) Exists(url string) (bool, error) {
	rel, err := RelPath(url)
	if err != nil {
		return false, err
	}
	dir, base := path.Split(rel)
	d, ok := p.dirs[dir]
	if !ok {
		if len(p.dirs) >= proberDirs {
			p.Close()
		}
		d, err = p.s.root.Open(path.Clean(dir))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, classify("open", dir, err)
		}
		p.dirs[dir] = d
	}
	var st unix.Stat_t
	err = unix.Fstatat(int(d.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return false, nil
	case err != nil:
		return false, classify("stat", rel, err)
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG, nil
}

// Close closes the folders the Prober holds.
func (p *Prober) Close() {
	for k, d := range p.dirs {
		d.Close()
		delete(p.dirs, k)
	}
}
