package thumbs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
)

// MaxDecodedBytes is the largest image decoded, in the bytes its decoded
// pixels take (width × height × bytes per pixel of the model the decoder
// produces, as the header declares it): 50 megapixels of 8-bit RGBA. A
// 16-bit PNG takes 8 bytes a pixel, so 7000×7000 of it (49 megapixels,
// 392 MB) is over it though under 50 megapixels.
const MaxDecodedBytes = 200_000_000

// DefaultMemoryBudget bounds the bytes all decodes in flight may hold
// together (Options.MemoryBudget 0): two of the largest images at once.
const DefaultMemoryBudget = 512 << 20

// scaleTmpBytes is what Catmull-Rom scaling holds beside the two images: a
// float64 RGBA for each pixel of (destination width × source height)
// (golang.org/x/image/draw's kernel scaler, makeTmpBuf).
const scaleTmpBytes = 4 * 8

// header is what an image's header says of the memory it takes.
type header struct {
	format string
	w, h   int
	// decoded is the bytes the decoder holds for the whole image: its
	// pixels, plus the passes of an interlaced PNG and the coefficients of
	// a progressive JPEG.
	decoded int64
}

// readHeader reads r's header (image.DecodeConfig, then the PNG IHDR or the
// JPEG frame marker for what the model alone does not tell). It does not
// rewind r. A header that does not decode is ErrNotImage.
func readHeader(r io.ReadSeeker) (header, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return header{}, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return header{}, fmt.Errorf("%w: %d×%d", ErrNotImage, cfg.Width, cfg.Height)
	}
	h := header{format: format, w: cfg.Width, h: cfg.Height}
	px := int64(cfg.Width) * int64(cfg.Height)
	h.decoded = px * bytesPerPixel(cfg.ColorModel)
	switch format {
	case "png":
		// An interlaced PNG is decoded pass by pass into images of its
		// own, then copied into the whole: up to twice the pixels.
		if interlaced, err := pngInterlaced(r); err != nil {
			return header{}, err
		} else if interlaced {
			h.decoded *= 2
		}
	case "jpeg":
		// A progressive JPEG keeps every coefficient (an int32 each, one per
		// pixel per component) until its last scan.
		if progressive, err := jpegProgressive(r); err != nil {
			return header{}, err
		} else if progressive {
			h.decoded += px * 4 * int64(components(cfg.ColorModel))
		}
	}
	return h, nil
}

// bytesPerPixel is the size of a pixel of the image the standard decoders
// (and x/image/webp) return for a header's colour model. A model not listed
// counts as the largest.
func bytesPerPixel(m color.Model) int64 {
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at most; subsampled chroma takes less
	case color.RGBAModel, color.NRGBAModel, color.NYCbCrAModel:
		return 4
	case color.CMYKModel:
		return 5 // the CMYK image and the black channel decoded beside it
	}
	return 8 // RGBA64, NRGBA64
}

func components(m color.Model) int {
	switch m {
	case color.GrayModel:
		return 1
	case color.CMYKModel:
		return 4
	}
	return 3
}

// pngInterlaced reads the interlace byte of the IHDR (the first chunk, right
// after the 8-byte signature).
func pngInterlaced(r io.ReadSeeker) (bool, error) {
	var b [29]byte
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("rewind: %w", err)
	}
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return false, fmt.Errorf("%w: png header: %v", ErrNotImage, err)
	}
	return b[28] != 0, nil
}

// jpegProgressive walks the JPEG's markers to its frame header: SOF2 (and
// the arithmetic SOF6, 10, 14, which Go does not decode) is progressive.
func jpegProgressive(r io.ReadSeeker) (bool, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("rewind: %w", err)
	}
	bad := func(err error) (bool, error) { return false, fmt.Errorf("%w: jpeg markers: %v", ErrNotImage, err) }
	var b [2]byte
	if _, err := io.ReadFull(r, b[:]); err != nil || b != [2]byte{0xFF, 0xD8} {
		return bad(errors.Join(err, errors.New("no SOI")))
	}
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return bad(err)
		}
		for b[0] == 0xFF && b[1] == 0xFF { // fill bytes before a marker
			b[0] = 0xFF
			if _, err := io.ReadFull(r, b[1:]); err != nil {
				return bad(err)
			}
		}
		if b[0] != 0xFF {
			return bad(errors.New("not a marker"))
		}
		m := b[1]
		switch {
		case m == 0x01 || (m >= 0xD0 && m <= 0xD8): // no length
			continue
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE, nil
		}
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return bad(err)
		}
		n := int64(binary.BigEndian.Uint16(b[:])) - 2
		if n < 0 {
			return bad(errors.New("segment length"))
		}
		if _, err := r.Seek(n, io.SeekCurrent); err != nil {
			return bad(err)
		}
	}
}

// weight is the memory rendering h at width w holds at its peak: the
// decoded image, the scaler's buffer, the thumbnail and its encoding.
func (h header) weight(w int) int64 {
	dw := int64(min(w, h.w))
	dh := max(1, (int64(h.h)*dw+int64(h.w)/2)/int64(h.w))
	return h.decoded + dw*int64(h.h)*scaleTmpBytes + 2*dw*dh*4
}

// check refuses (ErrTooLarge) an image whose decoded pixels are over
// MaxDecodedBytes, or whose rendering at width w would not fit in budget.
func (h header) check(w int, budget int64) error {
	if h.decoded > MaxDecodedBytes {
		return fmt.Errorf("%w: %d×%d %s takes %d MB decoded, over %d MB", ErrTooLarge, h.w, h.h, h.format, h.decoded/1_000_000, MaxDecodedBytes/1_000_000)
	}
	if wt := h.weight(w); wt > budget {
		return fmt.Errorf("%w: %d×%d %s at width %d takes %d MB, over the budget of %d MB", ErrTooLarge, h.w, h.h, h.format, w, wt/1_000_000, budget/1_000_000)
	}
	return nil
}

// CheckUpload tells whether the image whose first bytes are head could ever
// be thumbnailed: ErrTooLarge when even its narrowest thumbnail would be
// refused (decoded over MaxDecodedBytes, or over DefaultMemoryBudget at
// width 64). A head that does not decode (not an image, or a header longer
// than head) is not judged here: nil, and the thumbnail route answers 422
// if it never decodes.
func CheckUpload(head []byte) error {
	h, err := readHeader(bytes.NewReader(head))
	if err != nil {
		return nil
	}
	return h.check(Widths[0], DefaultMemoryBudget)
}
