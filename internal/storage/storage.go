// Package storage keeps image files on disk: live files under
// ROOT/recursos, the trash in ROOT/.papelera and upload staging in ROOT/.tmp.
//
// Every operation goes through an os.Root, so no path, however it was
// spelled, and no symlink can reach outside the storage folder; names are
// also validated lexically before they touch the disk. Moves are renames
// inside one filesystem (checked by Open), so they are atomic, and the
// parent folders are fsynced so a move survives a power cut. No HTTP, no SQL.
package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Errors of this package; wrapped with the offending name.
var (
	ErrUnsafePath  = errors.New("unsafe path")
	ErrTooLarge    = errors.New("file too large")
	ErrNotImage    = errors.New("not an accepted image type")
	ErrEmpty       = errors.New("empty file")
	ErrNoSpace     = errors.New("no space left in the storage folder")
	ErrNotExist    = errors.New("file does not exist")
	ErrCrossDevice = errors.New("live, trash and staging folders are on different filesystems")
)

// Folders below the root.
const (
	liveDir    = "recursos"
	uploadDir  = "recursos/imagenes/productos"
	trashDir   = ".papelera"
	stagingDir = ".tmp"
)

// Storage is a storage root. Safe for concurrent use.
type Storage struct {
	path string
	root *os.Root
	dirs dirCache  // open folders of the request path
	sync groupSync // background fsync of the folders renames touched
	// sortedMax is the most entries of a folder the live walk sorts
	// (sortedFolderMax; tests lower it).
	sortedMax int

	closeOnce sync.Once
	closeErr  error
}

// Open opens root (creating it and its folders if needed) and checks that
// live, trash and staging folders are on one filesystem: a rename across
// filesystems is a copy, not atomic, and the protocol relies on atomic
// renames. It returns an error wrapping ErrCrossDevice when they are not.
func Open(root string) (*Storage, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("storage root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create storage root: %w", err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open storage root: %w", err)
	}
	for _, d := range []string{uploadDir, trashDir, stagingDir} {
		if err := r.MkdirAll(d, 0o755); err != nil {
			r.Close()
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	devs := make([]uint64, 0, 3)
	for _, d := range []string{liveDir, trashDir, stagingDir} {
		dev, err := deviceOf(r, d)
		if err != nil {
			r.Close()
			return nil, err
		}
		devs = append(devs, dev)
	}
	if err := sameDevice([]string{liveDir, trashDir, stagingDir}, devs); err != nil {
		r.Close()
		return nil, err
	}
	top, err := r.Open(".")
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open storage root: %w", err)
	}
	s := &Storage{path: abs, root: r, sortedMax: sortedFolderMax}
	s.dirs.max = maxCachedDirs
	s.dirs.top = top
	s.sync.open = s.dir
	return s, nil
}

// Close waits for the last group fsync, then releases the folders and the
// root. It returns the group fsyncs that failed since Open (a rename into
// the trash that may not survive a power cut; the janitor reconciles it).
// Closing twice is safe: the second call returns what the first did.
func (s *Storage) Close() error {
	s.closeOnce.Do(func() {
		err := s.sync.close()
		s.dirs.close()
		s.closeErr = errors.Join(err, s.root.Close())
	})
	return s.closeErr
}

// SyncErrors reports how many background fsyncs of the trash folder failed
// since Open, and the last failure, for a metric and the logs.
func (s *Storage) SyncErrors() (uint64, error) { return s.sync.errors() }

// OnSyncError sets a function called with each failed background fsync (the
// app logs it); the storage package itself has no logger.
func (s *Storage) OnSyncError(fn func(error)) { s.sync.onError.Store(&fn) }

// Root returns the absolute path of the storage folder.
func (s *Storage) Root() string { return s.path }

func deviceOf(r *os.Root, name string) (uint64, error) {
	fi, err := r.Stat(name)
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", name, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no device number on this platform", name)
	}
	return uint64(st.Dev), nil
}

// sameDevice returns ErrCrossDevice naming the first folder whose device
// differs from the first one's.
func sameDevice(names []string, devs []uint64) error {
	for i := 1; i < len(devs); i++ {
		if devs[i] != devs[0] {
			return fmt.Errorf("%w: %s and %s", ErrCrossDevice, names[0], names[i])
		}
	}
	return nil
}

// syncDir fsyncs a folder so that a rename in it is durable. Filesystems
// that cannot sync folders answer EINVAL; that is not an error.
func (s *Storage) syncDir(name string) error {
	d, err := s.root.Open(name)
	if err != nil {
		return fmt.Errorf("open %s for sync: %w", name, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	return nil
}
