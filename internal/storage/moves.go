package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// classify turns the os.Root refusal of a path that leaves the root (a
// symlink pointing out, for instance) into ErrUnsafePath, and a missing file
// into an error matching both ErrNotExist and fs.ErrNotExist.
func classify(op, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "path escapes from parent"):
		return fmt.Errorf("%s %q: %w", op, name, ErrUnsafePath)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %q: %w", op, name, errors.Join(ErrNotExist, err))
	}
	return fmt.Errorf("%s %q: %w", op, name, err)
}

// started fails with ctx's error when ctx has ended, before a step that
// has an effect: a step begun is carried out whole (a rename is atomic,
// its fsyncs follow), so the caller's deadline is honoured between steps,
// never inside one.
func started(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %q not started: %w", op, name, err)
	}
	return nil
}

// regular checks, without following a final symlink, that name is a regular
// file. A symlink in the live folder is never an image of ours.
func (s *Storage) regular(name string) (fs.FileInfo, error) {
	fi, err := s.root.Lstat(name)
	if err != nil {
		return nil, classify("stat", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%q is not a regular file: %w", name, ErrUnsafePath)
	}
	return fi, nil
}

// absent fails with fs.ErrExist when name exists: renames never overwrite.
// Names are unique by construction (uuids, trash entry ids), so the gap
// between this check and the rename is not reachable by our own writers.
func (s *Storage) absent(name string) error {
	_, err := s.root.Lstat(name)
	if err == nil {
		return fmt.Errorf("%q: %w", name, fs.ErrExist)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return classify("stat", name, err)
}

// MoveToTrash renames the live file of url to .papelera/trashName. A live
// file that does not exist is (false, nil): the caller notes it. Any error
// leaves the file where it was.
//
// It is made durable by the group sync's fsync of the trash folder within
// ~10 ms rather than on the request path, where fsyncing both folders
// halved delete throughput (see groupSync). A rename lost to a power cut in
// that window is reconciled by the janitor: before the commit it is simply
// undone; after it, the live file has a trash entry but no row, and the
// janitor moves it into the trash under the entry's name.
func (s *Storage) MoveToTrash(ctx context.Context, url, trashName string) (moved bool, err error) {
	src, err := RelPath(url)
	if err != nil {
		return false, err
	}
	if _, err := trashPath(trashName); err != nil {
		return false, err
	}
	if err := started(ctx, "move to trash", src); err != nil {
		return false, err
	}
	return s.moveToTrash(src, trashName)
}

// MoveFromTrash renames .papelera/trashName back to the live path of url,
// creating its folders, and fsyncs both. It refuses to overwrite a live file
// (fs.ErrExist) and reports a missing trash file as ErrNotExist.
func (s *Storage) MoveFromTrash(ctx context.Context, trashName, url string) error {
	src, err := trashPath(trashName)
	if err != nil {
		return err
	}
	dst, err := RelPath(url)
	if err != nil {
		return err
	}
	if _, err := s.regular(src); err != nil {
		return err
	}
	if err := started(ctx, "move from trash", src); err != nil {
		return err
	}
	if err := s.root.MkdirAll(path.Dir(dst), 0o755); err != nil {
		return classify("create folder", path.Dir(dst), err)
	}
	if err := s.absent(dst); err != nil {
		return err
	}
	if err := s.root.Rename(src, dst); err != nil {
		return classify("move from trash", src, err)
	}
	return errors.Join(s.syncDir(path.Dir(dst)), s.syncDir(trashDir))
}

// RemoveTrash deletes .papelera/name for good; a missing file is fine.
func (s *Storage) RemoveTrash(ctx context.Context, name string) error {
	p, err := trashPath(name)
	if err != nil {
		return err
	}
	if err := started(ctx, "remove", p); err != nil {
		return err
	}
	if err := s.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return classify("remove", p, err)
	}
	return s.syncDir(trashDir)
}

// RemoveLive deletes the live file of url; a missing file is fine. Only
// used to undo an upload whose transaction did not commit.
func (s *Storage) RemoveLive(ctx context.Context, url string) error {
	p, err := RelPath(url)
	if err != nil {
		return err
	}
	if _, err := s.regular(p); err != nil {
		if errors.Is(err, ErrNotExist) {
			return nil
		}
		return err
	}
	if err := started(ctx, "remove", p); err != nil {
		return err
	}
	if err := s.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return classify("remove", p, err)
	}
	return s.syncDir(path.Dir(p))
}

// LiveInfo returns the live file's info (not following a final symlink).
func (s *Storage) LiveInfo(ctx context.Context, url string) (fs.FileInfo, error) {
	p, err := RelPath(url)
	if err != nil {
		return nil, err
	}
	return s.regular(p)
}

// LiveExists reports whether url has a regular live file; something else at
// its path is ErrUnsafePath. It keeps the folder open for the next call,
// as the janitor asks it for every row.
func (s *Storage) LiveExists(ctx context.Context, url string) (bool, error) {
	rel, err := RelPath(url)
	if err != nil {
		return false, err
	}
	return s.liveExists(rel)
}

// TrashExists reports whether the trash holds file name.
func (s *Storage) TrashExists(ctx context.Context, name string) (bool, error) {
	p, err := trashPath(name)
	if err != nil {
		return false, err
	}
	_, err = s.regular(p)
	if errors.Is(err, ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// OpenLive opens the live file of url for reading: regular files only, so
// a folder or a symlink is ErrUnsafePath and nothing outside is read.
func (s *Storage) OpenLive(ctx context.Context, url string) (File, error) {
	p, err := RelPath(url)
	if err != nil {
		return nil, err
	}
	return s.openRegular(p)
}

// openRegular opens p for reading when it is a regular file: a folder or a
// symlink is ErrUnsafePath, and no symlink is followed on the way.
func (s *Storage) openRegular(p string) (File, error) {
	if _, err := s.regular(p); err != nil {
		return nil, err
	}
	f, err := s.root.OpenFile(p, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return nil, classify("open", p, err)
	}
	return f, nil
}

// RenameTrash renames trash file from to to, refusing to overwrite. The
// janitor uses it to give a trash file without an entry the name of the
// entry it creates for it.
func (s *Storage) RenameTrash(ctx context.Context, from, to string) error {
	src, err := trashPath(from)
	if err != nil {
		return err
	}
	dst, err := trashPath(to)
	if err != nil {
		return err
	}
	if _, err := s.regular(src); err != nil {
		return err
	}
	if err := s.absent(dst); err != nil {
		return err
	}
	if err := started(ctx, "rename in trash", src); err != nil {
		return err
	}
	if err := s.root.Rename(src, dst); err != nil {
		return classify("rename in trash", src, err)
	}
	return s.syncDir(trashDir)
}
