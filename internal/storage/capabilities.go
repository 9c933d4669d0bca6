package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Capabilities of the folder: renames, one at a time, no cap of its own,
// a thumbnail cache, no signed urls.
func (s *Storage) Capabilities() Capabilities {
	return Capabilities{MoveConcurrency: 1, Thumbnails: true}
}

// SameObject is always false on a folder: a rename never leaves a file
// under two names.
func (s *Storage) SameObject(ctx context.Context, name, url string) (bool, error) {
	if err := CheckTrashName(name); err != nil {
		return false, err
	}
	if _, err := RelPath(url); err != nil {
		return false, err
	}
	return false, nil
}

// Presign is unsupported on a folder: its files are served by the routes.
func (s *Storage) Presign(ctx context.Context, url string, ttl time.Duration) (string, error) {
	return "", fmt.Errorf("presign %q on a folder: %w", url, errors.ErrUnsupported)
}
