package thumbs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/thumbs"
	"github.com/imagenes/imagenes/internal/thumbs/thumbstest"
)

// TestCheckUpload: what could never be thumbnailed is judged from the
// header by the bytes a pixel takes decoded, not by pixels alone: a 16-bit
// 7000×7000 PNG is 49 megapixels but 392 MB decoded.
func TestCheckUpload(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		head    []byte
		wantErr error
	}{
		{"16-bit RGBA 7000×7000 (392 MB decoded)", thumbstest.CutPNG16(7000, 7000, 0.9), thumbs.ErrTooLarge},
		{"16-bit RGBA 5000×5000 (200 MB decoded: the limit)", thumbstest.CutPNG16(5000, 5000, 0.9), nil},
		{"16-bit RGBA 5000×5001", thumbstest.CutPNG16(5000, 5001, 0.9), thumbs.ErrTooLarge},
		{"8-bit RGBA 7000×7000 (196 MB decoded)", thumbstest.BombPNG(7000, 7000), nil},
		{"8-bit RGBA 100000×100000", thumbstest.BombPNG(100_000, 100_000), thumbs.ErrTooLarge},
		{"1 pixel wide, 40 million tall: the scaler's buffer alone is 1.3 GB", thumbstest.BombPNG(1, 40_000_000), thumbs.ErrTooLarge},
		{"a real png", thumbstest.Encoded(t, "png", 300, 200), nil},
		{"a real jpeg", thumbstest.Encoded(t, "jpeg", 300, 200), nil},
		{"not an image: not judged here", []byte("hello"), nil},
		{"a header cut short: not judged here", thumbstest.BombPNG(100_000, 100_000)[:20], nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := thumbs.CheckUpload(tc.head); !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestBytesPerPixel: the decoded size counts each colour model's real
// pixel size (through the refusal at the limit: 200 MB decoded).
func TestBytesPerPixel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		model  color.Model
		pixels int64 // the most that still fits
	}{
		{"gray", color.GrayModel, 200_000_000},
		{"gray16", color.Gray16Model, 100_000_000},
		{"ycbcr", color.YCbCrModel, 66_666_666},
		{"nrgba", color.NRGBAModel, 50_000_000},
		{"cmyk", color.CMYKModel, 40_000_000},
		{"nrgba64", color.NRGBA64Model, 25_000_000},
		{"palette", color.Palette{color.Black}, 200_000_000},
	}
	for _, tc := range cases {
		if got := thumbs.DecodedBytes(tc.model, tc.pixels); got > thumbs.MaxDecodedBytes {
			t.Errorf("%s: %d pixels take %d bytes, want at most %d", tc.name, tc.pixels, got, thumbs.MaxDecodedBytes)
		}
		if got := thumbs.DecodedBytes(tc.model, tc.pixels+1); got <= thumbs.MaxDecodedBytes {
			t.Errorf("%s: %d pixels take %d bytes, want over %d", tc.name, tc.pixels+1, got, thumbs.MaxDecodedBytes)
		}
	}
}

// TestFailedDecodeRemembered: a file that fails to decode answers its
// failure from a negative cache keyed by the file's identity (url, size,
// time): the first request decodes it, the later ones do not (counted by
// the service's decode counter, not by time). A 16-bit 7000×7000 PNG cut at
// 90 % is refused from its header (392 MB decoded) and never decoded; a
// smaller cut one is decoded once. The same url with other bytes is tried
// again.
func TestFailedDecodeRemembered(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		data        []byte
		wantErr     error
		wantDecodes int64
	}{
		{"16-bit 7000×7000 cut at 90 %", thumbstest.CutPNG16(7000, 7000, 0.9), thumbs.ErrTooLarge, 0},
		{"16-bit 1500×1500 cut at 90 %", thumbstest.CutPNG16(1500, 1500, 0.9), thumbs.ErrNotImage, 1},
		{"16-bit 1500×1500 cut at 10 %", thumbstest.CutPNG16(1500, 1500, 0.1), thumbs.ErrNotImage, 1},
		{"not an image", []byte("\x89PNG\r\n\x1a\nnot really"), thumbs.ErrNotImage, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files, url := liveImage(t, tc.data, "png")
			s := thumbs.New(files, thumbs.Options{})
			for i := range 5 {
				for _, w := range []int{64, 256, 1024} {
					if _, err := s.Live(context.Background(), url, w); !errors.Is(err, tc.wantErr) {
						t.Fatalf("request %d at w=%d: got %v, want %v", i, w, err, tc.wantErr)
					}
				}
			}
			if got := s.Decodes(); got != tc.wantDecodes {
				t.Errorf("15 requests decoded %d times, want %d", got, tc.wantDecodes)
			}
			// The file replaced by a good one (another size and time): the
			// failure is not its.
			p := filepath.Join(files.Root(), filepath.FromSlash(url))
			if err := os.WriteFile(p, thumbstest.Encoded(t, "png", 100, 80), 0o644); err != nil {
				t.Fatal(err)
			}
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(p, later, later); err != nil {
				t.Fatal(err)
			}
			th, err := s.Live(context.Background(), url, 64)
			if err != nil {
				t.Fatalf("after the file was replaced: got %v, want its thumbnail", err)
			}
			th.File.Close()
		})
	}
}

// TestMemoryBudgetAcrossCallers: decodes of different images share one
// memory budget. With room for one decode at a time, while one decodes no
// other can take its share; a caller whose context ends while it waits
// gets ErrBusy (the routes' 503); once the first ends, every waiting caller
// gets its thumbnail.
func TestMemoryBudgetAcrossCallers(t *testing.T) {
	t.Parallel()
	img := thumbstest.Encoded(t, "png", 300, 300)
	weight := thumbs.Weight(t, img, 64)
	root := t.TempDir()
	files, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	urls := make([]string, 5)
	for i := range urls {
		urls[i] = putLive(t, root, img, "png")
	}
	s := thumbs.New(files, thumbs.Options{MemoryBudget: weight * 3 / 2, Decoders: 4})
	gate := make(chan struct{})
	entered := make(chan string, len(urls))
	var mu sync.Mutex
	var overlapped []string
	thumbs.SetBeforeDecode(s, func(name string) {
		if thumbs.MemoryFree(s, weight) {
			mu.Lock()
			overlapped = append(overlapped, name)
			mu.Unlock()
		}
		entered <- name
		if name == urls[0] {
			<-gate
		}
	})
	results := make(chan error, 4)
	go func() { results <- live(s, context.Background(), urls[0]) }()
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("the first decode never started")
	}
	for _, u := range urls[1:4] {
		go func() { results <- live(s, context.Background(), u) }()
	}
	// A caller whose context ends while it waits behind the budget held by
	// the first decode returns then, with ErrBusy. Its context is ended by
	// hand once it waits on its generation, not by a deadline: on a loaded
	// machine a short deadline could end before the caller got that far.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	busy := make(chan error, 1)
	go func() { busy <- live(s, ctx, urls[4]) }()
	for deadline := time.Now().Add(time.Minute); thumbs.Waiting(s, urls[4], 64) < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the fifth caller never waited on its generation")
		}
	}
	cancel()
	select {
	case err := <-busy:
		if !errors.Is(err, thumbs.ErrBusy) || !errors.Is(err, context.Canceled) {
			t.Errorf("a caller whose context ended behind the budget: got %v, want ErrBusy (canceled)", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the fifth caller did not return when its context ended")
	}
	close(gate)
	for range 4 {
		select {
		case err := <-results:
			if err != nil {
				t.Errorf("got %v, want a thumbnail", err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("the callers never got their thumbnails")
		}
	}
	if len(overlapped) > 0 {
		t.Errorf("decodes of %v ran with room for another beside them, want the budget to hold one at a time", overlapped)
	}
	if got := s.Decodes(); got != 4 {
		t.Errorf("decoded %d times, want 4 (the caller that left was never decoded for)", got)
	}
}

// TestSharedGenerationOutlivesFirstCaller: the generation two callers share
// runs on a context of its own. The first caller's context ends while the
// generation waits for a decode slot; it returns then, with its own error,
// and the second still gets the thumbnail. Handing the first caller's
// context to the generation gave the second its 503 too.
func TestSharedGenerationOutlivesFirstCaller(t *testing.T) {
	t.Parallel()
	img := thumbstest.Encoded(t, "png", 400, 300)
	root := t.TempDir()
	files, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	busy, shared := putLive(t, root, img, "png"), putLive(t, root, img, "png")
	s := thumbs.New(files, thumbs.Options{Decoders: 1})
	gate, holding := make(chan struct{}), make(chan struct{})
	thumbs.SetBeforeDecode(s, func(name string) {
		if name == busy {
			close(holding)
			<-gate
		}
	})
	busyDone := make(chan error, 1)
	go func() { busyDone <- live(s, context.Background(), busy) }()
	<-holding // the only decode slot is taken

	short, cancelShort := context.WithCancel(context.Background())
	first, second := make(chan error, 1), make(chan error, 1)
	waiting := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); thumbs.Waiting(s, shared, 64) < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("got %d callers on the shared generation, want %d", thumbs.Waiting(s, shared, 64), n)
			}
		}
	}
	go func() { first <- live(s, short, shared) }()
	waiting(1) // the first caller started the generation
	go func() { second <- live(s, context.Background(), shared) }()
	waiting(2)
	cancelShort() // the first caller's deadline
	select {
	case err := <-first:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("first caller: got %v, want its own context's end", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the first caller did not return at its context's end")
	}
	close(gate)
	for name, ch := range map[string]chan error{"second caller": second, "the slot's holder": busyDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("%s: got %v, want the thumbnail", name, err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s never answered", name)
		}
	}
}

// TestUnwritableCacheServedFromMemory: a thumbnail whose cache entry cannot
// be written is served from memory, counted and logged.
func TestUnwritableCacheServedFromMemory(t *testing.T) {
	t.Parallel()
	files, url := liveImage(t, thumbstest.Encoded(t, "jpeg", 300, 200), "jpg")
	s := thumbs.New(failingWrites{files}, thumbs.Options{})
	for i := range 3 {
		th, err := s.Live(context.Background(), url, 128)
		if err != nil {
			t.Fatalf("request %d: got %v, want the thumbnail from memory", i, err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(th.File); err != nil || int64(buf.Len()) != th.Info.Size() || buf.Len() == 0 {
			t.Errorf("request %d: read %d bytes (%v), want the %d of its info", i, buf.Len(), err, th.Info.Size())
		}
		th.File.Close()
	}
	if got := s.CacheWriteErrors(); got != 3 {
		t.Errorf("counted %d cache write errors, want 3", got)
	}
}

type failingWrites struct{ *storage.Storage }

func (failingWrites) WriteThumb(context.Context, string, int, string, []byte) error {
	return fmt.Errorf("write thumbnail: %w", storage.ErrNoSpace)
}

func live(s *thumbs.Service, ctx context.Context, url string) error {
	th, err := s.Live(ctx, url, 64)
	if err == nil {
		th.File.Close()
	}
	return err
}

// putLive writes data at a fresh live url under root.
func putLive(t testing.TB, root string, data []byte, ext string) string {
	t.Helper()
	url := storage.NewImageURL(ext)
	p := filepath.Join(root, filepath.FromSlash(url))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return url
}
