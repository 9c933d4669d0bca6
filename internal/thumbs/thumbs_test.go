package thumbs_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/thumbs"
	"github.com/imagenes/imagenes/internal/thumbs/thumbstest"
)

func TestRender(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		format       string
		w, h         int // of the fixture (webp: its own)
		ext          string
		width        int
		wantW, wantH int
		wantFormat   string
		wantErr      error
	}{
		{"jpeg halves", "jpeg", 400, 300, "jpg", 200, 200, 150, "jpeg", nil},
		{"jpeg narrower is not upscaled", "jpeg", 50, 40, "jpg", 1024, 50, 40, "jpeg", nil},
		{"png keeps aspect", "png", 300, 100, "png", 64, 64, 21, "png", nil},
		{"gif becomes png", "gif", 256, 512, "png", 128, 128, 256, "png", nil},
		{"webp lossy becomes png", "webp-lossy", 150, 100, "png", 64, 64, 43, "png", nil},
		{"webp lossless not upscaled", "webp-lossless", 75, 100, "png", 512, 75, 100, "png", nil},
		{"tall image keeps at least one row", "png", 1024, 1, "png", 64, 64, 1, "png", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := thumbs.Render(bytes.NewReader(thumbstest.Encoded(t, tc.format, tc.w, tc.h)), tc.width, tc.ext)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("thumbnail does not decode: %v", err)
			}
			if cfg.Width != tc.wantW || cfg.Height != tc.wantH || format != tc.wantFormat {
				t.Errorf("got %d×%d %s, want %d×%d %s", cfg.Width, cfg.Height, format, tc.wantW, tc.wantH, tc.wantFormat)
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"bomb 100000×100000 png header", thumbstest.BombPNG(100_000, 100_000), thumbs.ErrTooLarge},
		{"just over 50 megapixels", thumbstest.BombPNG(10_000, 5_001), thumbs.ErrTooLarge},
		{"zero width", thumbstest.BombPNG(0, 10), thumbs.ErrNotImage},
		{"not an image", []byte("hello, not an image"), thumbs.ErrNotImage},
		{"truncated png (header says 10×10, no pixels)", thumbstest.BombPNG(10, 10), thumbs.ErrNotImage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := thumbs.Render(bytes.NewReader(tc.in), 64, "png"); !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestBombAllocatesLittle: the refusal comes from the header, so a 10
// gigapixel claim costs kilobytes, not the 40 GB decoding it would take.
func TestBombAllocatesLittle(t *testing.T) {
	bomb := thumbstest.BombPNG(100_000, 100_000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		if _, err := thumbs.Render(bytes.NewReader(bomb), 1024, "png"); !errors.Is(err, thumbs.ErrTooLarge) {
			t.Fatalf("got %v, want ErrTooLarge", err)
		}
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("10 refusals allocated %d bytes, want under 1 MiB", got)
	}
}

func TestParseWidth(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"64", "128", "256", "512", "1024"} {
		if _, err := thumbs.ParseWidth(s); err != nil {
			t.Errorf("ParseWidth(%q): %v, want ok", s, err)
		}
	}
	for _, s := range []string{"", "0", "63", "100", "2048", "-64", "64.0", "abc", " 64", "0x40"} {
		if _, err := thumbs.ParseWidth(s); !errors.Is(err, thumbs.ErrBadWidth) {
			t.Errorf("ParseWidth(%q): %v, want ErrBadWidth", s, err)
		}
	}
}

// liveImage puts data at a fresh product image url in a new storage root.
func liveImage(t testing.TB, data []byte, ext string) (*storage.Storage, string) {
	t.Helper()
	root := t.TempDir()
	files, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	url := storage.NewImageURL(ext)
	p := filepath.Join(root, filepath.FromSlash(url))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return files, url
}

// TestConcurrentFirstRequestsGenerateOnce: 20 callers asking at once for a
// thumbnail that is not cached yet decode the image once (singleflight, then
// the cache); every one of them gets the same bytes.
func TestConcurrentFirstRequestsGenerateOnce(t *testing.T) {
	t.Parallel()
	files, url := liveImage(t, thumbstest.Encoded(t, "png", 800, 600), "png")
	s := thumbs.New(files, thumbs.Options{})
	const n = 20
	var wg sync.WaitGroup
	sizes := make(chan int64, n)
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			th, err := s.Live(context.Background(), url, 256)
			if err != nil {
				errs <- err
				return
			}
			th.File.Close()
			sizes <- th.Info.Size()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	close(sizes)
	for err := range errs {
		t.Errorf("Live: %v", err)
	}
	var first int64
	for sz := range sizes {
		if first == 0 {
			first = sz
		}
		if sz != first || sz == 0 {
			t.Errorf("got a %d-byte thumbnail, want every caller's %d bytes", sz, first)
		}
	}
	if got := s.Generated(); got != 1 {
		t.Errorf("generated %d times, want 1", got)
	}
}

// TestLiveFollowsTheOriginal: no original, no thumbnail, even cached; a
// cache entry older than its original is generated again.
func TestLiveFollowsTheOriginal(t *testing.T) {
	t.Parallel()
	files, url := liveImage(t, thumbstest.Encoded(t, "jpeg", 300, 300), "jpg")
	s := thumbs.New(files, thumbs.Options{})
	th, err := s.Live(context.Background(), url, 64)
	if err != nil {
		t.Fatal(err)
	}
	th.File.Close()
	if th.ContentType != "image/jpeg" {
		t.Errorf("got %s, want image/jpeg", th.ContentType)
	}
	if _, err := files.MoveToTrash(t.Context(), url, storage.TrashName(1, th.Info.ModTime(), url)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Live(context.Background(), url, 64); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("after the delete: got %v, want ErrNotExist", err)
	}
	if got := s.Generated(); got != 1 {
		t.Errorf("generated %d, want 1", got)
	}
}

func benchmarkLive(b *testing.B, cached bool) {
	files, url := liveImage(b, thumbstest.Encoded(b, "jpeg", 1600, 1200), "jpg")
	s := thumbs.New(files, thumbs.Options{})
	root := files.Root()
	if th, err := s.Live(context.Background(), url, 256); err == nil {
		th.File.Close() // warm: a cached run measures hits only
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !cached {
			b.StopTimer()
			os.RemoveAll(filepath.Join(root, ".miniaturas"))
			b.StartTimer()
		}
		th, err := s.Live(context.Background(), url, 256)
		if err != nil {
			b.Fatal(err)
		}
		th.File.Close()
	}
}

// BenchmarkThumbnailCached is a cache hit: two opens and two stats.
func BenchmarkThumbnailCached(b *testing.B) { benchmarkLive(b, true) }

// BenchmarkThumbnailUncached decodes a 1600×1200 jpeg, scales it to 256
// wide (Catmull-Rom) and writes the cache entry.
func BenchmarkThumbnailUncached(b *testing.B) { benchmarkLive(b, false) }
