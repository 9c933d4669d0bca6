// Package catalog holds the shop's use cases over the delete protocol:
// uploads (a staged file becomes an image), image deletes and restores, and
// product writes (an image set adopts uploaded images by url, inserts
// external urls, and drops the rest into the trash). Each runs as one
// trash.Service transaction through trash.Tx's steps, so rows and files
// change together; this package decides what to change, internal/trash how.
// The domain metrics (deletes, uploads, restores, images trashed) are
// counted here, whichever route or command asked.
package catalog

import (
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// Service runs the catalogue's use cases.
type Service struct {
	proto   *trash.Service
	files   storage.Backend
	metrics *Metrics
	deletes *coalescer
	// bulkLimit is the most distinct ids of one bulk delete (BulkLimit).
	bulkLimit int
}

// New returns a Service over the protocol and its storage (for discarding
// staged uploads). metrics may be nil.
func New(proto *trash.Service, files storage.Backend, metrics *Metrics) *Service {
	s := &Service{proto: proto, files: files, metrics: metrics, bulkLimit: bulkLimit(files.Capabilities())}
	s.deletes = &coalescer{run: s.deleteBatch}
	return s
}
