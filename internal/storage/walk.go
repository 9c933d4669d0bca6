package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
)

// readDirBatch bounds how many entries of one folder are held at once.
const readDirBatch = 1024

// WalkLive calls fn for every product image (IsProductImage) below
// ROOT/recursos/imagenes/productos, with its url and directory entry. Entries are read with getdents and
// their types from the kernel (dirents.go): Info costs an fstatat, so callers
// ask only for the files they care about.
// It streams folder by folder in batches, so memory does not grow with the
// number of files; symlinks are skipped, never followed, and names that
// RelPath refuses are skipped. fn returning fs.SkipAll stops the walk
// without error.
func (s *Storage) WalkLive(fn func(url string, d fs.DirEntry) error) error {
	err := s.walkDir(uploadDir, func(url string, d fs.DirEntry) error {
		if !IsProductImage(url) {
			return nil // a shop's own file next to its product images
		}
		return fn(url, d)
	})
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

func (s *Storage) walkDir(dir string, fn func(url string, d fs.DirEntry) error) error {
	r, err := s.openDirReader(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	ents := make([]fs.DirEntry, 0, readDirBatch)
	for {
		ents, err = r.next(ents, readDirBatch)
		if err != nil {
			return err
		}
		if len(ents) == 0 {
			return nil
		}
		for _, e := range ents {
			p := path.Join(dir, e.Name())
			switch {
			case e.Type()&fs.ModeSymlink != 0:
				continue
			case e.IsDir():
				if e.Name()[0] == '.' {
					continue
				}
				if err := s.walkDir(p, fn); err != nil {
					return err
				}
			case e.Type().IsRegular():
				url := "/" + p
				if _, err := RelPath(url); err != nil {
					continue
				}
				if err := fn(url, e); err != nil {
					return err
				}
			}
		}
	}
}

// WalkTrash calls fn for every regular file in the trash folder, in
// batches. fn returning fs.SkipAll stops the walk without error.
func (s *Storage) WalkTrash(fn func(name string, info fs.FileInfo) error) error {
	d, err := s.root.Open(trashDir)
	if err != nil {
		return classify("open", trashDir, err)
	}
	defer d.Close()
	for {
		ents, rerr := d.ReadDir(readDirBatch)
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			if err := fn(e.Name(), info); err != nil {
				if errors.Is(err, fs.SkipAll) {
					return nil
				}
				return err
			}
		}
		if errors.Is(rerr, io.EOF) || (rerr == nil && len(ents) == 0) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read %s: %w", trashDir, rerr)
		}
	}
}
