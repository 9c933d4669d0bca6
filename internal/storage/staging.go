package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// Staged is an upload written to .tmp and not yet published.
type Staged struct {
	Name        string // file name inside .tmp
	Size        int64
	SHA256      string // hex
	ContentType string // judged from the bytes
	Ext         string
}

var extOf = map[string]string{
	"image/jpeg": "jpg",
	"image/png":  "png",
	"image/webp": "webp",
	"image/gif":  "gif",
}

// Stage copies r into a new file in .tmp, at most limit bytes, and fsyncs
// it. The type is judged from the first bytes, never from the client's
// header or file name, and must be one of allowed. It streams: memory does
// not grow with the file. Errors wrap ErrTooLarge, ErrNotImage or ErrEmpty;
// on any error nothing is left in .tmp.
func (s *Storage) Stage(ctx context.Context, r io.Reader, limit int64, allowed []string) (_ *Staged, err error) {
	name := uuid.NewString() + ".part"
	p := stagingDir + "/" + name
	f, err := s.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, classify("create", p, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			s.root.Remove(p) //nolint:errcheck // best effort; CleanStaging catches leftovers
		}
	}()

	var dst io.Writer = f
	if stageWriteHook != nil {
		dst = stageWriteHook(f)
	}
	st, err := CopyImage(dst, r, limit, allowed)
	if err != nil {
		return nil, err
	}
	st.Name = name
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("sync upload: %w", spaceError(err))
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close upload: %w", err)
	}
	return st, nil
}

// CopyImage copies r to dst, at most limit bytes, judging the type from the
// first bytes (never from the client's header or file name); it must be one
// of allowed. It streams: memory does not grow with the file. Errors wrap
// ErrTooLarge, ErrNotImage, ErrEmpty or ErrNoSpace. The result has no Name:
// where the bytes went is the caller's.
func CopyImage(dst io.Writer, r io.Reader, limit int64, allowed []string) (*Staged, error) {
	var head [512]byte
	n, err := io.ReadFull(r, head[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	if n == 0 {
		return nil, ErrEmpty
	}
	ct := http.DetectContentType(head[:n])
	if !slices.Contains(allowed, ct) {
		return nil, fmt.Errorf("%w: %s", ErrNotImage, ct)
	}
	h := sha256.New()
	w := io.MultiWriter(dst, h)
	if _, err := w.Write(head[:n]); err != nil {
		return nil, fmt.Errorf("write upload: %w", spaceError(err))
	}
	rest, err := io.Copy(w, io.LimitReader(r, limit-int64(n)+1))
	if err != nil {
		return nil, fmt.Errorf("write upload: %w", spaceError(err))
	}
	size := int64(n) + rest
	if size > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return &Staged{Size: size, SHA256: hex.EncodeToString(h.Sum(nil)), ContentType: ct, Ext: extOf[ct]}, nil
}

// Publish renames the staged file to the live path of url, creating its
// folder, and fsyncs the folder. It never overwrites a live file.
func (s *Storage) Publish(ctx context.Context, st *Staged, url string) error {
	dst, err := RelPath(url)
	if err != nil {
		return err
	}
	if err := s.root.MkdirAll(path.Dir(dst), 0o755); err != nil {
		return classify("create folder", path.Dir(dst), err)
	}
	if err := s.absent(dst); err != nil {
		return err
	}
	if err := started(ctx, "publish", dst); err != nil {
		return err
	}
	src := stagingDir + "/" + st.Name
	if err := s.root.Rename(src, dst); err != nil {
		return classify("publish", src, err)
	}
	return s.syncDir(path.Dir(dst))
}

// Discard removes a staged file; a missing one is fine.
func (s *Storage) Discard(ctx context.Context, st *Staged) error {
	if st == nil {
		return nil
	}
	if err := s.root.Remove(stagingDir + "/" + st.Name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return classify("discard", st.Name, err)
	}
	return nil
}

// CleanStaging removes staged files older than olderThan: leftovers of
// uploads cut off by a crash. It returns their names. With dryRun it
// removes nothing and returns the names it would have removed: the janitor's
// dry run reports from the same selection as its real pass.
func (s *Storage) CleanStaging(ctx context.Context, olderThan time.Duration, now time.Time, dryRun bool) ([]string, error) {
	d, err := s.root.Open(stagingDir)
	if err != nil {
		return nil, classify("open", stagingDir, err)
	}
	defer d.Close()
	var stale []string
	for {
		ents, err := d.ReadDir(1024)
		for _, e := range ents {
			info, ierr := e.Info()
			if ierr != nil || !info.Mode().IsRegular() || now.Sub(info.ModTime()) < olderThan {
				continue
			}
			if dryRun {
				stale = append(stale, e.Name())
				continue
			}
			if err := started(ctx, "remove", stagingDir+"/"+e.Name()); err != nil {
				return stale, err
			}
			switch rerr := s.root.Remove(stagingDir + "/" + e.Name()); {
			case rerr == nil:
				stale = append(stale, e.Name())
			case !errors.Is(rerr, fs.ErrNotExist): // gone meanwhile is fine
				return stale, classify("remove", stagingDir+"/"+e.Name(), rerr)
			}
		}
		if errors.Is(err, io.EOF) || len(ents) == 0 {
			return stale, nil
		}
		if err != nil {
			return stale, fmt.Errorf("read %s: %w", stagingDir, err)
		}
	}
}

// Usable checks that the storage folder is writable, for /readyz.
func (s *Storage) Usable(ctx context.Context) error {
	p := stagingDir + "/.probe-" + uuid.NewString()
	f, err := s.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return classify("probe", p, err)
	}
	f.Close()
	return classify("remove probe", p, s.root.Remove(p))
}

// stageWriteHook, set only by this package's tests, wraps the staged file's
// writer: where the machine cannot mount a small filesystem, a test fills
// the "disk" this way.
var stageWriteHook func(io.Writer) io.Writer

// spaceError marks a full disk (or quota) as ErrNoSpace, keeping the cause.
func spaceError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return errors.Join(ErrNoSpace, err)
	}
	return err
}
