// Package thumbs makes the thumbnails of SPEC §11: a fixed set of widths,
// aspect kept, never upscaled, jpeg stays jpeg and every other format
// (png, gif, webp) becomes png (lossless, keeps transparency). Live images'
// thumbnails are generated once, on first request, and cached in the
// storage's .miniaturas/ folder; a thumbnail is served only while its
// original is live. Decompression bombs are refused from the size their
// header declares (by the bit depth and colour model the decoder will
// produce), before a single pixel is decoded; decodes in flight share one
// memory budget; a file that failed to decode is remembered and not
// decoded again.
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
	"time"

	"go.uber.org/zap"
	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers WebP with image.Decode
	"golang.org/x/sync/semaphore"

	"github.com/imagenes/imagenes/internal/storage"
)

// Errors of this package.
var (
	ErrBadWidth = errors.New("thumbnail width not in the allowed set")
	ErrTooLarge = errors.New("image too large to thumbnail")
	ErrNotImage = errors.New("not a decodable image")
	// ErrBusy: the thumbnail was not ready when its caller's context
	// ended — waiting for its share of the memory budget, for a decode
	// slot, or decoding. A 503: try again.
	ErrBusy     = errors.New("thumbnail not ready in time")
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

// Files is what thumbnails need of storage: both backends provide it.
type Files interface {
	OpenLive(ctx context.Context, url string) (storage.File, error)
	OpenTrash(ctx context.Context, name string) (storage.File, error)
	OpenThumb(ctx context.Context, url string, w int, ext string) (storage.File, error)
	WriteThumb(ctx context.Context, url string, w int, ext string, data []byte) error
}

// Options tune a Service; zero values are the defaults.
type Options struct {
	// MemoryBudget bounds the bytes all decodes in flight hold together
	// (the decoded image, the scaler's buffer, the thumbnail): a decode
	// waits for its share, under its generation's context, and ends in
	// ErrBusy when that ends first. One image that alone needs more is
	// ErrTooLarge. 0: DefaultMemoryBudget.
	MemoryBudget int64
	// Decoders is how many decodes run at once (CPU-bound). 0: one per core.
	Decoders int
	// Failures is how many files that failed to decode are remembered. 0:
	// 1024.
	Failures int
	// GenerationLimit bounds one shared generation. 0: a minute.
	GenerationLimit time.Duration
	// Log gets a warning for each thumbnail whose cache entry could not be
	// written. nil: no log.
	Log *zap.Logger
}

// Service generates and caches thumbnails. Safe for concurrent use.
type Service struct {
	files   Files
	flights flights
	slots   chan struct{} // bounds decodes in flight: CPU
	memory  *semaphore.Weighted
	budget  int64
	failed  *failures
	log     *zap.Logger

	generated   atomic.Int64
	decodes     atomic.Int64
	writeErrors atomic.Int64
	// beforeDecode, set by tests only, runs when a decode holds its slot
	// and its memory, before it reads a pixel.
	beforeDecode func(name string)
}

// New returns a Service over files.
func New(files Files, o Options) *Service {
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.Decoders <= 0 {
		o.Decoders = max(1, runtime.NumCPU())
	}
	if o.GenerationLimit <= 0 {
		o.GenerationLimit = defaultGenerationLimit
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return &Service{
		files: files, flights: flights{limit: o.GenerationLimit}, slots: make(chan struct{}, o.Decoders),
		memory: semaphore.NewWeighted(o.MemoryBudget), budget: o.MemoryBudget, failed: newFailures(o.Failures), log: o.Log,
	}
}

// Generated is how many thumbnails were generated since start (each cache
// miss that decoded an image), for the metric and the tests.
func (s *Service) Generated() int64 { return s.generated.Load() }

// Decodes is how many decodes of pixels were started since start, whether
// they succeeded or not (a failure remembered is not decoded again).
func (s *Service) Decodes() int64 { return s.decodes.Load() }

// CacheWriteErrors is how many generated thumbnails could not be written
// to the cache (and were served from memory).
func (s *Service) CacheWriteErrors() int64 { return s.writeErrors.Load() }

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
// Concurrent first requests for one thumbnail decode it once, on a context
// of their own (flights); each returns at its own ctx's end. A thumbnail
// whose cache entry cannot be written (a full or read-only storage) is
// served from memory, counted and logged: the cache is an optimisation.
func (s *Service) Live(ctx context.Context, url string, w int) (Thumb, error) {
	orig, err := s.files.OpenLive(ctx, url)
	if err != nil {
		return Thumb{}, err
	}
	oinfo, err := orig.Stat()
	orig.Close()
	if err != nil {
		return Thumb{}, fmt.Errorf("stat %s: %w", url, err)
	}
	ext := Ext(url)
	if t, ok := s.cached(ctx, url, w, ext, oinfo); ok {
		return t, nil
	}
	id := identityOf(url, oinfo)
	if err := s.failed.get(id); err != nil {
		return Thumb{}, err
	}
	g, err := s.flights.do(ctx, flightKey(url, w), func(ctx context.Context) (generated, error) {
		if t, ok := s.cached(ctx, url, w, ext, oinfo); ok {
			t.File.Close()
			return generated{}, nil
		}
		f, err := s.files.OpenLive(ctx, url)
		if err != nil {
			return generated{}, err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return generated{}, fmt.Errorf("stat %s: %w", url, err)
		}
		data, err := s.render(ctx, identityOf(url, info), f, w, ext)
		if err != nil {
			return generated{}, err
		}
		if err := s.files.WriteThumb(ctx, url, w, ext, data); err != nil {
			if ctx.Err() != nil { // every caller left, or the limit: no storage fault
				return generated{}, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
			}
			s.writeErrors.Add(1)
			s.log.Warn("thumbnail cache not written: served from memory",
				zap.String("url", url), zap.Int("w", w), zap.Error(err))
			return generated{data: data}, nil
		}
		return generated{data: data, written: true}, nil
	})
	if err != nil {
		return Thumb{}, err
	}
	if g.written || g.data == nil {
		if t, ok := s.cached(ctx, url, w, ext, oinfo); ok {
			return t, nil
		}
	}
	if g.data != nil { // not written, or gone since: what was generated
		return memThumb(g.data, oinfo.ModTime(), ext), nil
	}
	return Thumb{}, fmt.Errorf("thumbnail of %s: %w", url, ErrNotExist)
}

func flightKey(url string, w int) string { return strconv.Itoa(w) + " " + url }

// cached opens the cache entry when it exists and is not older than the
// original.
func (s *Service) cached(ctx context.Context, url string, w int, ext string, orig fs.FileInfo) (Thumb, bool) {
	f, err := s.files.OpenThumb(ctx, url, w, ext)
	if err != nil {
		return Thumb{}, false
	}
	info, err := f.Stat()
	if err != nil || info.ModTime().Before(orig.ModTime()) {
		f.Close()
		return Thumb{}, false
	}
	return Thumb{File: f, Info: info, ContentType: contentType(ext)}, true
}

// Trashed renders the thumbnail of trash file name (restorable image url)
// without caching it: previews of the trash are rare and the janitor would
// sweep their cache entries anyway.
func (s *Service) Trashed(ctx context.Context, name, url string, w int) ([]byte, string, error) {
	f, err := s.files.OpenTrash(ctx, name)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("stat %s: %w", name, err)
	}
	ext := Ext(url)
	data, err := s.render(ctx, identityOf("trash/"+name, info), f, w, ext)
	return data, contentType(ext), err
}

// render reads the header of f (the file id), refuses what is too large,
// takes its share of the memory budget and a decode slot, and renders. A
// file that does not decode is remembered as such (s.failed) and is not
// decoded again.
func (s *Service) render(ctx context.Context, id identity, f io.ReadSeeker, w int, ext string) ([]byte, error) {
	if err := s.failed.get(id); err != nil {
		return nil, err
	}
	h, err := readHeader(f)
	if err == nil {
		err = h.check(w, s.budget)
	}
	if err != nil {
		if errors.Is(err, ErrNotImage) {
			s.failed.put(id, err)
		}
		return nil, err
	}
	weight := h.weight(w)
	if err := s.memory.Acquire(ctx, weight); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBusy, err)
	}
	defer s.memory.Release(weight)
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
	defer func() { <-s.slots }()
	if s.beforeDecode != nil {
		s.beforeDecode(id.name)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind: %w", err)
	}
	s.decodes.Add(1)
	data, err := scale(f, w, ext)
	if errors.Is(err, ErrNotImage) {
		s.failed.put(id, err)
	}
	if err == nil {
		s.generated.Add(1)
	}
	return data, err
}

// Render decodes r and returns it scaled to width w (never wider than the
// original), encoded as ext ("jpg" or "png"). The header is read first: an
// image too large (MaxDecodedBytes, or DefaultMemoryBudget at width w) is
// ErrTooLarge, with nothing decoded.
func Render(r io.ReadSeeker, w int, ext string) ([]byte, error) {
	h, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	if err := h.check(w, DefaultMemoryBudget); err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind: %w", err)
	}
	return scale(r, w, ext)
}

// scale decodes r and encodes it at width w.
func scale(r io.Reader, w int, ext string) ([]byte, error) {
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
