package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

// MarkerName is the file `serve` writes in the storage root on first start.
// The janitor refuses to work without it: an unmounted volume looks like an
// empty folder, and reconciling against it would call every row dangling.
const MarkerName = ".imagenes-storage"

const markerText = "This folder is the storage of imagenes. Do not delete this file: the janitor refuses to run without it.\n"

// MarkerExists reports whether the marker file is present.
func (s *Storage) MarkerExists(ctx context.Context) (bool, error) {
	_, err := s.root.Lstat(MarkerName)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, classify("stat", MarkerName, err)
}

// WriteMarker creates the marker file if absent.
func (s *Storage) WriteMarker(ctx context.Context) error {
	f, err := s.root.OpenFile(MarkerName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return classify("create", MarkerName, err)
	}
	if _, err := f.WriteString(markerText); err != nil {
		f.Close()
		return classify("write", MarkerName, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return classify("sync", MarkerName, err)
	}
	if err := f.Close(); err != nil {
		return classify("close", MarkerName, err)
	}
	return s.syncDir(".")
}
