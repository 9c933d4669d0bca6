package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// ErrUnavailable marks a storage that cannot answer now: an object store
// that is unreachable, slow past its time limit, missing its bucket or
// refusing the credentials. Requests answer 503; the janitor stops its pass.
var ErrUnavailable = errors.New("storage unavailable")

// File is an open live file: it streams, seeks (for Range) and stats.
// *os.File is one; so is an object store's download.
type File interface {
	io.ReadSeekCloser
	Stat() (fs.FileInfo, error)
}

// Backend is what the row+file protocol, the janitor and the routes need
// from storage. The local folder (*Storage) and the S3 bucket
// (objstore.Store) both satisfy it, with the same keys (SPEC §9) and the
// same errors: ErrUnsafePath for a refused name, ErrNotExist for a missing
// file, fs.ErrExist for a move that would overwrite, ErrUnavailable for a
// store that cannot answer.
type Backend interface {
	// Moves between live and trash; the protocol's reversible step.
	MoveToTrash(url, trashName string) (moved bool, err error)
	MoveFromTrash(trashName, url string) error
	RenameTrash(from, to string) error
	RemoveTrash(name string) error
	// RemoveTrashBatch removes many trash files at once (a bucket's
	// multi-object delete): failed holds each name not known removed.
	RemoveTrashBatch(ctx context.Context, names []string) (failed map[string]error, err error)
	RemoveLive(url string) error

	LiveExists(url string) (bool, error)
	// LiveInfo is the live file's size and time; missing is ErrNotExist.
	LiveInfo(url string) (fs.FileInfo, error)
	TrashExists(name string) (bool, error)
	OpenLive(url string) (File, error)

	// Uploads: judged into a staging area, then published at a url.
	Stage(r io.Reader, limit int64, allowed []string) (*Staged, error)
	Publish(st *Staged, url string) error
	Discard(st *Staged) error
	CleanStaging(olderThan time.Duration, now time.Time, dryRun bool) ([]string, error)

	// The janitor's listings, streamed in bounded batches.
	WalkLive(fn func(url string, d fs.DirEntry) error) error
	WalkTrash(fn func(name string, info fs.FileInfo) error) error

	MarkerExists() (bool, error)
	WriteMarker() error
	// Usable checks the storage can be written (folder) or reached (bucket).
	Usable() error
	// Root names the storage in logs: a folder or s3://bucket/prefix/.
	Root() string
	Close() error
}

var _ Backend = (*Storage)(nil)

// CheckTrashName validates a trash file name (one plain segment), for
// backends that build their own keys from it.
func CheckTrashName(name string) error {
	_, err := trashPath(name)
	return err
}
