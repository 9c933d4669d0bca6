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

// Capabilities is what a driver does differently from the others, as a
// value the protocol, the routes and the janitor read instead of asking
// for a driver's type: behaviour that differs stays inside the driver, and
// what the callers must know of it is here.
type Capabilities struct {
	// MoveConcurrency is how many moves of one step pay to run at once:
	// 1 on a folder (renames into one folder serialize in the kernel),
	// more on a bucket (each move is requests over the network).
	MoveConcurrency int
	// MaxMovesPerRequest is the most files one request may move within
	// REQUEST_TIMEOUT (the bulk route's cap); 0 is no cap of the driver's.
	MaxMovesPerRequest int
	// CopyMoves: a move is a copy then a delete (a bucket), so a crash or
	// a lost answer between them leaves the file under both names, which
	// SameObject tells; a folder's rename never does.
	CopyMoves bool
	// Thumbnails: the driver keeps the thumbnail cache (OpenThumb,
	// WriteThumb, RemoveThumb, WalkThumbs).
	Thumbnails bool
	// Presign: Presign gives a signed url of a live file, to serve it by
	// redirect (STORAGE_REDIRECT); without it Presign is
	// errors.ErrUnsupported.
	Presign bool
}

// File is an open live file: it streams, seeks (for Range) and stats.
// *os.File is one; so is an object store's download.
type File interface {
	io.ReadSeekCloser
	Stat() (fs.FileInfo, error)
}

// Backend is what the row+file protocol, the janitor and the routes need
// from storage. The local folder (*Storage) and the S3 bucket
// (objstore.Store) both satisfy it, with the same keys (SPEC §9) and the
// same errors, each wrapped with the name it concerns (test with
// errors.Is):
//   - ErrUnsafePath: a url or name the key rules refuse, or one that would
//     leave the storage (a symlink out); nothing was touched.
//   - ErrNotExist: the file is missing (a move's source, an open, a stat).
//     Removals and MoveToTrash treat a missing file as done instead.
//   - fs.ErrExist: a move or publish would overwrite; nothing was touched.
//   - ErrUnavailable: the store cannot answer (unreachable, past its time
//     limit, a server error). The call may or may not have had its effect.
//   - the caller's ctx.Err() (context.DeadlineExceeded, context.Canceled),
//     alone on a folder, beside ErrUnavailable on a bucket.
//   - errors.ErrUnsupported: what Capabilities says the driver lacks.
//
// Capabilities tells what differs between drivers; no caller asks for a
// driver's type.
//
// Every method that reaches the storage takes the caller's context first
// (Go CDK's blob/driver): a request's REQUEST_TIMEOUT, a janitor pass's
// end. A bucket bounds each of its requests by the earlier of ctx's
// deadline and its own time limit; the folder checks ctx before each step
// that has an effect and never stops a step halfway because of it. A call
// that failed because ctx ended may still have had its effect (the answer
// was lost, not the request): callers treat that error as "unknown", never
// as "did not happen". An undo that must run after the caller's deadline
// passes context.WithoutCancel(ctx): the driver's own limit still bounds it.
type Backend interface {
	// Moves between live and trash; the protocol's reversible step.
	MoveToTrash(ctx context.Context, url, trashName string) (moved bool, err error)
	MoveFromTrash(ctx context.Context, trashName, url string) error
	RenameTrash(ctx context.Context, from, to string) error
	RemoveTrash(ctx context.Context, name string) error
	// RemoveTrashBatch removes many trash files at once (a bucket's
	// multi-object delete): failed holds each name not known removed.
	RemoveTrashBatch(ctx context.Context, names []string) (failed map[string]error, err error)
	RemoveLive(ctx context.Context, url string) error

	LiveExists(ctx context.Context, url string) (bool, error)
	// LiveInfo is the live file's size and time; missing is ErrNotExist.
	LiveInfo(ctx context.Context, url string) (fs.FileInfo, error)
	TrashExists(ctx context.Context, name string) (bool, error)
	// OpenLive opens the live file; ctx bounds the open, not the reads
	// (an answer streams after its handler returned).
	OpenLive(ctx context.Context, url string) (File, error)

	// Uploads: judged into a staging area, then published at a url.
	Stage(ctx context.Context, r io.Reader, limit int64, allowed []string) (*Staged, error)
	Publish(ctx context.Context, st *Staged, url string) error
	Discard(ctx context.Context, st *Staged) error
	CleanStaging(ctx context.Context, olderThan time.Duration, now time.Time, dryRun bool) ([]string, error)

	// The janitor's listings, streamed in bounded batches. A listing ctx
	// cut is an error, never a short listing.
	WalkLive(ctx context.Context, fn func(url string, d fs.DirEntry) error) error
	WalkTrash(ctx context.Context, fn func(name string, info fs.FileInfo) error) error

	MarkerExists(ctx context.Context) (bool, error)
	WriteMarker(ctx context.Context) error
	// Usable checks the storage can be written (folder) or reached (bucket).
	Usable(ctx context.Context) error
	// The thumbnail cache (Capabilities.Thumbnails) and the trash preview.
	OpenTrash(ctx context.Context, name string) (File, error)
	OpenThumb(ctx context.Context, url string, w int, ext string) (File, error)
	WriteThumb(ctx context.Context, url string, w int, ext string, data []byte) error
	RemoveThumb(ctx context.Context, key string) error
	WalkThumbs(ctx context.Context, fn func(key string) error) error

	// SameObject reports whether trash file name and url's live file both
	// exist with the same bytes: a copy-move (Capabilities.CopyMoves) cut
	// between its copy and its delete. A driver without copy-moves says no.
	SameObject(ctx context.Context, name, url string) (bool, error)
	// Presign is a GET url of url's live file valid for ttl
	// (Capabilities.Presign); a missing file is ErrNotExist.
	Presign(ctx context.Context, url string, ttl time.Duration) (string, error)

	Capabilities() Capabilities
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
