package objstore

import "github.com/imagenes/imagenes/internal/storage"

// Capabilities of a bucket. MoveConcurrency: each move is a copy and a
// delete over the network (three requests, ~15 ms on MinIO), while the
// bucket serves several at once, so the protocol (internal/trash) makes 8
// at once for one delete of many files.
//
// MaxMovesPerRequest caps the files one request may move: the bulk delete
// route (internal/catalog) takes no more distinct ids than this, where the
// folder takes the SPEC's 1 000. Each move is three S3 requests, so a
// thousand are 3 000 — seconds of MinIO's CPU — and the request would
// outlast REQUEST_TIMEOUT on a loaded machine, ending in a commit of
// unknown outcome and a janitor pass to put the files back. README ("The
// bulk route on a bucket") has the figures this was chosen by.
func (s *Store) Capabilities() storage.Capabilities {
	return storage.Capabilities{
		MoveConcurrency:    8,
		MaxMovesPerRequest: MaxMovesPerRequest,
		CopyMoves:          true,
		Thumbnails:         true,
		Presign:            true,
	}
}

// MaxMovesPerRequest is a bucket's Capabilities().MaxMovesPerRequest.
const MaxMovesPerRequest = 100
