package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"
)

// dirReader reads a folder's entries with getdents(2) on a descriptor opened
// through the os.Root. Go's own ReadDir on a folder opened in a Root lstats
// every entry eagerly (os.newUnixDirent: "we cannot use a lazy lstat"), which
// was 4–5 s of a janitor pass over a million files; here the entry types come
// from the kernel (d_type), and an entry is stat'ed only when its Info is
// asked for — by fstatat on a folder opened in the same Root, without
// following a symlink, so nothing outside the root is ever looked at.
type dirReader struct {
	s      *Storage
	d      *os.File // the folder, opened through s.root
	dir    string   // its root-relative name
	prefix string   // "/" + dir + "/": an entry's url is prefix + name
	buf    []byte
	off, n int // the unread part of buf is buf[off:n]
	eof    bool
}

func (s *Storage) openDirReader(dir string) (*dirReader, error) {
	d, err := s.root.Open(dir)
	if err != nil {
		return nil, classify("open", dir, err)
	}
	return &dirReader{s: s, d: d, dir: dir, prefix: "/" + dir + "/", buf: make([]byte, 32<<10)}, nil
}

func (r *dirReader) Close() error { return r.d.Close() }

// next returns up to max entries ("." and ".." left out); none and a nil
// error at the end of the folder.
func (r *dirReader) next(ents []*dirent, max int) ([]*dirent, error) {
	ents = ents[:0]
	for len(ents) < max {
		if r.off >= r.n {
			if r.eof {
				break
			}
			n, err := unix.Getdents(int(r.d.Fd()), r.buf)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return ents, fmt.Errorf("read %s: %w", r.dir, err)
			}
			if n <= 0 {
				r.eof = true
				break
			}
			r.off, r.n = 0, n
		}
		// struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name\0.
		rec := r.buf[r.off:r.n]
		if len(rec) < 19 {
			return ents, fmt.Errorf("read %s: short dirent", r.dir)
		}
		reclen := int(binary.NativeEndian.Uint16(rec[16:18]))
		if reclen < 19 || reclen > len(rec) {
			return ents, fmt.Errorf("read %s: bad dirent length %d", r.dir, reclen)
		}
		r.off += reclen
		ino, typ, name := binary.NativeEndian.Uint64(rec[0:8]), rec[18], rec[19:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if ino == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		// One allocation per entry: the url, whose end is the name.
		url := r.prefix + string(name)
		e := &dirent{r: r.s, dir: r.dir, url: url, name: url[len(r.prefix):], typ: direntType(typ)}
		if typ == unix.DT_UNKNOWN { // a filesystem without d_type
			var st unix.Stat_t
			if err := unix.Fstatat(int(r.d.Fd()), e.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				continue // gone meanwhile
			}
			e.typ = modeOf(st.Mode).Type()
		}
		ents = append(ents, e)
	}
	return ents, nil
}

func direntType(t uint8) fs.FileMode {
	switch t {
	case unix.DT_REG:
		return 0
	case unix.DT_DIR:
		return fs.ModeDir
	case unix.DT_LNK:
		return fs.ModeSymlink
	case unix.DT_FIFO:
		return fs.ModeNamedPipe
	case unix.DT_SOCK:
		return fs.ModeSocket
	case unix.DT_CHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.DT_BLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular // DT_UNKNOWN until stat'ed, or a type we do not know
}

// dirent is an fs.DirEntry whose Info is an fstatat on the folder kept open
// by the Storage (dirCache), so it still answers after the walk has closed
// the descriptor it read the names from, as os's lazy entries do.
type dirent struct {
	r    *Storage
	dir  string
	url  string // "/" + dir + "/" + name
	name string // the end of url
	typ  fs.FileMode
}

func (e *dirent) Name() string               { return e.name }
func (e *dirent) IsDir() bool                { return e.typ.IsDir() }
func (e *dirent) Type() fs.FileMode          { return e.typ }
func (e *dirent) String() string             { return fs.FormatDirEntry(e) }
func (e *dirent) Info() (fs.FileInfo, error) { return e.r.lstatAt(e.dir, e.name) }

// lstatAt is an lstat of dir/name relative to the root, through the folder
// cache; it never follows a symlink.
func (s *Storage) lstatAt(dir, name string) (fs.FileInfo, error) {
	d, release, err := s.dir(dir)
	if err != nil {
		return nil, err
	}
	defer release()
	var st unix.Stat_t
	if err := unix.Fstatat(int(d.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, classify("stat", path.Join(dir, name), err)
	}
	return &statInfo{name: name, st: st}, nil
}

// statInfo is the fs.FileInfo of an fstatat.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (i *statInfo) Name() string       { return i.name }
func (i *statInfo) Size() int64        { return i.st.Size }
func (i *statInfo) Mode() fs.FileMode  { return modeOf(i.st.Mode) }
func (i *statInfo) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i *statInfo) IsDir() bool        { return i.Mode().IsDir() }
func (i *statInfo) Sys() any           { return &i.st }

// modeOf converts st_mode as os.Lstat does.
func modeOf(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
