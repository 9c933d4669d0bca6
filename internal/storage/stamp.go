package storage

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"syscall"

	"golang.org/x/sys/unix"
)

// Stamp is a live file's identity and version: which inode it is and its
// size, modification and change times. A rename, a link, an unlink or a
// write changes the change time, so an equal Stamp says the name still
// holds the very file, unmoved and unchanged, that was opened earlier.
type Stamp struct {
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64 // ns
}

// StampOf is the Stamp of an open file's info (false: not a local file).
func StampOf(fi fs.FileInfo) (Stamp, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stamp{}, false
	}
	return Stamp{Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true
}

// LiveStamp is the Stamp of url's live file, looked up with one fstatat
// from its folder's cached descriptor (opened through the root and checked
// to still be that folder), not following a final symlink: so it costs two
// syscalls instead of the root's walk, and a symlink or anything but a
// regular file is ErrUnsafePath, a missing file ErrNotExist. The static
// route revalidates its cached files with it.
func (s *Storage) LiveStamp(ctx context.Context, url string) (Stamp, error) {
	p, err := RelPath(url)
	if err != nil {
		return Stamp{}, err
	}
	d, release, err := s.dir(path.Dir(p))
	if err != nil {
		return Stamp{}, err
	}
	defer release()
	var st unix.Stat_t
	if err := unix.Fstatat(int(d.Fd()), path.Base(p), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Stamp{}, classify("stat", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return Stamp{}, fmt.Errorf("%q is not a regular file: %w", p, ErrUnsafePath)
	}
	return Stamp{Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, nil
}
