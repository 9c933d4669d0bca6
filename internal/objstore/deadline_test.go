package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
)

// The caller's context bounds every request of the bucket driver: a
// request's REQUEST_TIMEOUT ends the storage call it is waiting on, though
// the driver's own limit (Options.Timeout) is far later. The driver's limit
// here is an hour and the caller's deadline 3 s (or a cancellation), so a call that returns
// at all within the bound returned at the caller's deadline, and its error
// says so: storage.ErrUnavailable (a 503) wrapping the context's error.
// Before the driver took a context, each request ran on its own limit from
// context.Background() and these calls waited the hour.
func TestCallerDeadlineBoundsRequests(t *testing.T) {
	t.Parallel()
	const limit = time.Hour
	const deadline = 3 * time.Second
	const bound = time.Minute // generous: the machine is loaded; far below limit
	none := func(string, fs.DirEntry) error { return nil }
	cases := []struct {
		name string
		call func(ctx context.Context, s *objstore.Store) error
	}{
		// Opening is bounded by ctx; the body then streams past it (an
		// answer streams after its handler returned), so only the open.
		{"OpenLive", func(ctx context.Context, s *objstore.Store) error { _, err := s.OpenLive(ctx, url1); return err }},
		{"OpenTrash", func(ctx context.Context, s *objstore.Store) error {
			_, err := s.OpenTrash(ctx, "1-1-abc.png")
			return err
		}},
		{"OpenThumb", func(ctx context.Context, s *objstore.Store) error {
			_, err := s.OpenThumb(ctx, url1, 256, "png")
			return err
		}},
		{"WalkLive", func(ctx context.Context, s *objstore.Store) error { return s.WalkLive(ctx, none) }},
		{"WalkTrash", func(ctx context.Context, s *objstore.Store) error {
			return s.WalkTrash(ctx, func(string, fs.FileInfo) error { return nil })
		}},
		{"WalkThumbs", func(ctx context.Context, s *objstore.Store) error {
			return s.WalkThumbs(ctx, func(string) error { return nil })
		}},
		{"Presign", func(ctx context.Context, s *objstore.Store) error {
			_, err := s.Presign(ctx, url1, time.Minute)
			return err
		}},
		{"Usable", func(ctx context.Context, s *objstore.Store) error { return s.Usable(ctx) }},
		{"LiveExists", func(ctx context.Context, s *objstore.Store) error { _, err := s.LiveExists(ctx, url1); return err }},
		{"TrashExists", func(ctx context.Context, s *objstore.Store) error {
			_, err := s.TrashExists(ctx, "1-1-abc.png")
			return err
		}},
		{"LiveInfo", func(ctx context.Context, s *objstore.Store) error { _, err := s.LiveInfo(ctx, url1); return err }},
		{"SameObject", func(ctx context.Context, s *objstore.Store) error {
			_, err := s.SameObject(ctx, "1-1-abc.png", url1)
			return err
		}},
		{"MoveToTrash", func(ctx context.Context, s *objstore.Store) error {
			_, err := s.MoveToTrash(ctx, url1, "1-1-abc.png")
			return err
		}},
		{"MoveFromTrash", func(ctx context.Context, s *objstore.Store) error { return s.MoveFromTrash(ctx, "1-1-abc.png", url1) }},
		{"RenameTrash", func(ctx context.Context, s *objstore.Store) error {
			return s.RenameTrash(ctx, "1-1-abc.png", "2-1-abc.png")
		}},
		{"RemoveTrash", func(ctx context.Context, s *objstore.Store) error { return s.RemoveTrash(ctx, "1-1-abc.png") }},
		{"RemoveLive", func(ctx context.Context, s *objstore.Store) error { return s.RemoveLive(ctx, url1) }},
		{"MarkerExists", func(ctx context.Context, s *objstore.Store) error { _, err := s.MarkerExists(ctx); return err }},
		{"WriteMarker", func(ctx context.Context, s *objstore.Store) error { return s.WriteMarker(ctx) }},
		{"WriteThumb", func(ctx context.Context, s *objstore.Store) error {
			return s.WriteThumb(ctx, url1, 256, "png", []byte("png"))
		}},
		{"RemoveThumb", func(ctx context.Context, s *objstore.Store) error {
			return s.RemoveThumb(ctx, "256/recursos/imagenes/productos/ab/abc.png.png")
		}},
		{"Publish", func(ctx context.Context, s *objstore.Store) error {
			st, err := s.Stage(ctx, bytes.NewReader(pngBytes), 1<<20, []string{"image/png"})
			if err != nil {
				return fmt.Errorf("stage (local, never stalls): %w", err)
			}
			defer s.Discard(context.Background(), st)
			return s.Publish(ctx, st, url1)
		}},
	}
	// A server per call and ending, all calls at once. A deadline of a few
	// seconds leaves a loaded machine time to reach the server first; a
	// cancellation comes once the server has seen the request.
	type result struct {
		err  error
		seen int64
	}
	endings := []struct {
		name string
		want error
		ctx  func(requests *atomic.Int64) (context.Context, context.CancelFunc)
	}{
		{"deadline", context.DeadlineExceeded, func(*atomic.Int64) (context.Context, context.CancelFunc) {
			return context.WithTimeout(t.Context(), deadline)
		}},
		{"cancel", context.Canceled, func(requests *atomic.Int64) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				for requests.Load() == 0 && ctx.Err() == nil {
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
			}()
			return ctx, cancel
		}},
	}
	done := make([][]chan result, len(endings))
	for e, end := range endings {
		done[e] = make([]chan result, len(cases))
		for i, tc := range cases {
			addr, requests, _ := s3test.Stalled(t, s3test.Silent)
			s, err := objstore.New(objstore.Options{Bucket: "imagenes", Endpoint: "http://" + addr, PathStyle: true,
				AccessKey: "k", SecretKey: "secretsecret", Timeout: limit})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			done[e][i] = make(chan result, 1)
			ctx, cancel := end.ctx(requests)
			go func() {
				defer cancel()
				err := tc.call(ctx, s)
				done[e][i] <- result{err, requests.Load()}
			}()
		}
	}
	until := time.Now().Add(bound)
	for e, end := range endings {
		for i, tc := range cases {
			var r result
			select {
			case r = <-done[e][i]:
			case <-time.After(time.Until(until)):
				t.Errorf("%s, %s: no answer within %s of a silent server: the caller's context did not end the request (the driver's limit is %s)", tc.name, end.name, bound, limit)
				continue
			}
			switch {
			case r.seen == 0:
				t.Errorf("%s, %s: never reached the server (%v)", tc.name, end.name, r.err)
			case !errors.Is(r.err, storage.ErrUnavailable) || !errors.Is(r.err, end.want):
				t.Errorf("%s, %s: got %v, want an error wrapping ErrUnavailable and %v", tc.name, end.name, r.err, end.want)
			}
		}
	}
}
