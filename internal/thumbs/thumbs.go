// Package thumbs makes the thumbnails of SPEC §11: a fixed set of widths,
// aspect kept, never upscaled, jpeg stays jpeg and every other format
// (png, gif, webp) becomes png (lossless, keeps transparency). Live images'
// thumbnails are generated once, on first request, and cached in the
// storage's .miniaturas/ folder; a thumbnail is served only while its
// original is live. Decompression bombs are refused from the size their
// header declares, before a single pixel is decoded.
package thumbs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // registers GIF with image.Decode (the first frame)
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers WebP with image.Decode
	"golang.org/x/sync/singleflight"

	"github.com/imagenes/imagenes/internal/storage"
)

// MaxPixels is the largest image (width × height, as its header declares)
// that is decoded: 50 megapixels is ~200 MB of RGBA.
const MaxPixels = 50_000_000

// Errors of this package.
var (
	ErrBadWidth = errors.New("thumbnail width not in the allowed set")
	ErrTooLarge = errors.New("image declares more pixels than allowed")
	ErrNotImage = errors.New("not a decodable image")
	ErrNotExist = storage.ErrNotExist
)

const widthsString = "64, 128, 256, 512, 1024"

// Widths are the allowed widths: a fixed set, so the cache is bounded by
// five entries per image and no client can make it grow.
var Widths = []int{64, 128, 256, 512, 1024}

// ParseWidth reads w as one of Widths; anything else is ErrBadWidth.
func ParseWidth(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err == nil {
		for _, w := range Widths {
			if n == w {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("%w (%s): %q", ErrBadWidth, widthsString, s)
}

// Files is what thumbnails need of storage: the local folder provides it.
type Files interface {
	OpenLive(url string) (storage.File, error)
	OpenTrash(name string) (storage.File, error)
	OpenThumb(url string, w int, ext string) (storage.File, error)
	WriteThumb(url string, w int, ext string, data []byte) error
}

// Service generates and caches thumbnails. Safe for concurrent use.
type Service struct {
	files     Files
	flights   singleflight.Group
	slots     chan struct{} // bounds decodes in flight: each may hold ~200 MB
	generated atomic.Int64
}

// New returns a Service over files.
func New(files Files) *Service {
	return &Service{files: files, slots: make(chan struct{}, max(1, runtime.NumCPU()))}
}

// Generated is how many thumbnails were generated since start (each cache
// miss that decoded an image), for the metric and the tests.
func (s *Service) Generated() int64 { return s.generated.Load() }

// Thumb is an open thumbnail.
type Thumb struct {
	File        storage.File
	Info        fs.FileInfo
	ContentType string
}

// Ext is the format of url's thumbnails: "jpg" for a jpeg, else "png".
// Uploads carry the extension of the type judged from their bytes.
func Ext(url string) string {
	switch strings.ToLower(path.Ext(url)) {
	case ".jpg", ".jpeg":
		return "jpg"
	}
	return "png"
}

func contentType(ext string) string {
	if ext == "jpg" {
		return "image/jpeg"
	}
	return "image/png"
}

// Live returns the thumbnail of the live image url at width w, generating
// and caching it on first request. The original is opened first, on every
// call: a thumbnail of an image that was deleted is ErrNotExist at once,
// though its cache entry stays until the janitor sweeps it. A cache entry
// older than its original (a file replaced by hand) is generated again.
// Concurrent first requests for one thumbnail decode it once.
func (s *Service) Live(ctx context.Context, url string, w int) (Thumb, error) {
	orig, err := s.files.OpenLive(url)
	if err != nil {
		return Thumb{}, err
	}
	oinfo, err := orig.Stat()
	orig.Close()
	if err != nil {
		return Thumb{}, fmt.Errorf("stat %s: %w", url, err)
	}
	ext := Ext(url)
	if t, ok := s.cached(url, w, ext, oinfo); ok {
		return t, nil
	}
	key := strconv.Itoa(w) + " " + url
	_, err, _ = s.flights.Do(key, func() (any, error) {
		if t, ok := s.cached(url, w, ext, oinfo); ok {
			t.File.Close()
			return nil, nil
		}
		f, err := s.files.OpenLive(url)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		data, err := s.render(ctx, f, w, ext)
		if err != nil {
			return nil, err
		}
		return nil, s.files.WriteThumb(url, w, ext, data)
	})
	if err != nil {
		return Thumb{}, err
	}
	t, ok := s.cached(url, w, ext, nil)
	if !ok {
		return Thumb{}, fmt.Errorf("thumbnail of %s: %w", url, ErrNotExist)
	}
	return t, nil
}

// cached opens the cache entry when it exists and is not older than the
// original (orig nil: any entry).
func (s *Service) cached(url string, w int, ext string, orig fs.FileInfo) (Thumb, bool) {
	f, err := s.files.OpenThumb(url, w, ext)
	if err != nil {
		return Thumb{}, false
	}
	info, err := f.Stat()
	if err != nil || (orig != nil && info.ModTime().Before(orig.ModTime())) {
		f.Close()
		return Thumb{}, false
	}
	return Thumb{File: f, Info: info, ContentType: contentType(ext)}, true
}

// Trashed renders the thumbnail of trash file name (restorable image url)
// without caching it: previews of the trash are rare and the janitor would
// sweep their cache entries anyway.
func (s *Service) Trashed(ctx context.Context, name, url string, w int) ([]byte, string, error) {
	f, err := s.files.OpenTrash(name)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	ext := Ext(url)
	data, err := s.render(ctx, f, w, ext)
	return data, contentType(ext), err
}

// render takes a decode slot and renders.
func (s *Service) render(ctx context.Context, r io.ReadSeeker, w int, ext string) ([]byte, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.slots }()
	data, err := Render(r, w, ext)
	if err == nil {
		s.generated.Add(1)
	}
	return data, err
}

// Render decodes r and returns it scaled to width w (never wider than the
// original), encoded as ext ("jpg" or "png"). The header is read first:
// more than MaxPixels declared is ErrTooLarge, with nothing decoded.
func Render(r io.ReadSeeker, w int, ext string) ([]byte, error) {
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: %d×%d", ErrTooLarge, cfg.Width, cfg.Height)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind: %w", err)
	}
	src, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	sb := src.Bounds()
	dw := min(w, sb.Dx())
	dh := max(1, int((int64(sb.Dy())*int64(dw)+int64(sb.Dx())/2)/int64(sb.Dx())))
	var buf bytes.Buffer
	if ext == "jpg" {
		dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
		// A jpeg has no alpha, but a CMYK or gray one decodes to other
		// models; paint white first so nothing shows through as black.
		draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, sb, draw.Over, nil)
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85})
	} else {
		dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
		xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, sb, draw.Src, nil)
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, dst)
	}
	if err != nil {
		return nil, fmt.Errorf("encode thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}
