package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
)

// readDirBatch bounds how many entries of one folder are held at once when
// the folder is too big to sort.
const readDirBatch = 1024

// sortedFolderMax is the most entries of one folder the live walk holds to
// sort them (a few MiB per folder level): the fan-out keeps folders near
// 1/256 of the library, so one million images are ~4 000 a folder. A bigger
// folder (a legacy flat layout) is read in batches, in the kernel's order.
// Storage.sortedMax holds it, lowered by tests to reach a big folder.
const sortedFolderMax = 1 << 15

// WalkLive calls fn for every product image (IsProductImage) below
// ROOT/recursos/imagenes/productos, with its url and directory entry, in
// byte order of url (as `ORDER BY url COLLATE "C"` sorts): each folder's
// entries are sorted, a subfolder's files coming where its name followed by
// '/' sorts. The janitor merges this order with the table's instead of
// asking the table about every file; a folder of more than sortedFolderMax
// entries comes unsorted, and a caller must tell (a url not above the one
// before it) and look such files up another way.
//
// Entries are read with getdents and their types from the kernel
// (dirents.go): Info costs an fstatat, so callers ask only for the files they
// care about. Memory is bounded by the folders being read (at most
// sortedFolderMax entries each), not by the number of files; symlinks are
// skipped, never followed, and names that RelPath refuses are skipped. fn
// returning fs.SkipAll stops the walk without error.
func (s *Storage) WalkLive(ctx context.Context, fn func(url string, d fs.DirEntry) error) error {
	if _, err := RelPath("/" + uploadDir); err != nil {
		return err
	}
	err := s.walkDir(ctx, uploadDir, fn)
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

// walkDir walks dir, a folder RelPath accepts as part of a url.
// A walk ctx ended is an error, never a short walk: it is checked before
// each folder and each batch is read.
func (s *Storage) walkDir(ctx context.Context, dir string, fn func(url string, d fs.DirEntry) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("walk %s: %w", dir, err)
	}
	r, err := s.openDirReader(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	ents, err := r.next(nil, s.sortedMax+1)
	if err != nil {
		return err
	}
	if len(ents) <= s.sortedMax {
		// The whole folder: sorted, and its descriptor closed before the
		// subfolders are opened, so open folders do not pile up.
		slices.SortFunc(ents, urlOrder)
		r.Close()
		return s.visit(ctx, ents, fn)
	}
	for len(ents) > 0 {
		if err := s.visit(ctx, ents, fn); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("walk %s: %w", dir, err)
		}
		if ents, err = r.next(ents, readDirBatch); err != nil {
			return err
		}
	}
	return nil
}

// visit calls fn for the product images among ents and walks their folders.
func (s *Storage) visit(ctx context.Context, ents []*dirent, fn func(url string, d fs.DirEntry) error) error {
	for _, e := range ents {
		switch {
		case e.typ&fs.ModeSymlink != 0:
		case e.typ.IsDir():
			// A hidden folder, or a name RelPath refuses: nothing below it
			// has a url.
			if !segmentOK(e.name) || len(e.url) >= maxURL {
				continue
			}
			if err := s.walkDir(ctx, e.url[1:], fn); err != nil {
				return err
			}
		case e.typ.IsRegular():
			// The folder's segments were checked on the way down; the
			// name's is what is left of RelPath.
			if !segmentOK(e.name) || len(e.url) > maxURL || !hasProductExt(e.name) {
				continue
			}
			if err := fn(e.url, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// urlOrder sorts a folder's entries by the urls below them: a file by its
// name, a folder by its name followed by '/', byte by byte.
func urlOrder(a, b *dirent) int {
	n := min(len(a.name), len(b.name))
	if c := strings.Compare(a.name[:n], b.name[:n]); c != 0 {
		return c
	}
	return cmp.Compare(nextByte(a, n), nextByte(b, n))
}

// nextByte is the byte of e's urls after its name's first n bytes: -1 when
// the name ends there (a file's url ends), '/' for a folder.
func nextByte(e *dirent, n int) int {
	switch {
	case n < len(e.name):
		return int(e.name[n])
	case e.typ.IsDir():
		return '/'
	}
	return -1
}

// WalkTrash calls fn for every regular file in the trash folder, in
// batches. fn returning fs.SkipAll stops the walk without error.
func (s *Storage) WalkTrash(ctx context.Context, fn func(name string, info fs.FileInfo) error) error {
	d, err := s.root.Open(trashDir)
	if err != nil {
		return classify("open", trashDir, err)
	}
	defer d.Close()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("walk %s: %w", trashDir, err)
		}
		ents, rerr := d.ReadDir(readDirBatch)
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // moved out since listed: a committed restore or purge
			}
			if err != nil {
				return classify("stat", trashDir+"/"+e.Name(), err)
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
