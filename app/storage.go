package main

import (
	"context"
	"fmt"
	"time"

	"github.com/imagenes/imagenes/internal/config"
	"github.com/imagenes/imagenes/internal/handlers"
	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/storage"
)

// openStorage opens the storage STORAGE_URL names (SPEC §9): an S3 bucket,
// checked now so that a missing bucket, refused credentials or an
// unreachable server stop start-up with one line; or the local folder
// STORAGE_DIR, as always.
func openStorage(ctx context.Context, cfg config.Config) (storage.Backend, error) {
	if cfg.StorageS3 == "" {
		files, err := storage.Open(cfg.StorageDir)
		if err != nil {
			return nil, fmt.Errorf("STORAGE_DIR: %w", err)
		}
		return files, nil
	}
	o, err := objstore.ParseURL(cfg.StorageS3)
	if err != nil {
		return nil, fmt.Errorf("%w: STORAGE_URL: %w", errUsage, err)
	}
	o.AccessKey, o.SecretKey, o.SessionToken = cfg.S3AccessKey, cfg.S3SecretKey, cfg.S3SessionToken
	o.Timeout = s3Timeout(cfg.RequestTimeout)
	s, err := objstore.Open(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("STORAGE_URL: %w", err)
	}
	return s, nil
}

// s3Timeout bounds each storage request to half a request's time, so a
// request that makes a database round and a storage move still answers
// (503) within REQUEST_TIMEOUT when the store hangs.
func s3Timeout(request time.Duration) time.Duration {
	return max(request/2, 100*time.Millisecond)
}

// redirect is the presigner of STORAGE_REDIRECT=true, else nil.
func (d *deps) redirect() handlers.Presigner {
	if d.cfg.StorageRedirect && d.files.Capabilities().Presign {
		return d.files
	}
	return nil
}
