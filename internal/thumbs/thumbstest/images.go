// Package thumbstest makes the images the thumbnail and upload tests feed
// the service: real encodings of a gradient, the WebP files of thumbs'
// testdata, and decompression-bomb headers. Test-only.
package thumbstest

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Encoded is a w×h gradient in format (jpeg, png, gif), or, for webp,
// webp-lossy and webp-lossless, one of the two WebP files in
// internal/thumbs/testdata (golang.org/x/image's own test images, BSD: Go
// has no WebP encoder), whatever w and h say.
func Encoded(t testing.TB, format string, w, h int) []byte {
	t.Helper()
	switch format {
	case "webp", "webp-lossy", "webp-lossless":
		name := "lossy.webp"
		if format == "webp-lossless" {
			name = "lossless.webp"
		}
		b, err := os.ReadFile(filepath.Join(testdata(), name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "png":
		err = png.Encode(&buf, img)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	default:
		t.Fatalf("thumbstest: no encoder for %q", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// BombPNG is a valid PNG signature and an IHDR declaring w×h (8-bit RGBA),
// then zero padding and no pixels: what a decompression bomb's header looks
// like. The padding is there because an upload's type sniffing wants more
// than a header; it is no pixel data.
func BombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	b.Write(make([]byte, 64))
	return b.Bytes()
}

// CutPNG16 is a 16-bit RGBA PNG of w×h black pixels (8 bytes a pixel
// decoded: 7000×7000 is 392 MB) whose compressed pixel data is cut after
// the fraction keep of it, then ends (IEND): a file whose header is valid
// and whose decode fails after allocating the whole image and inflating
// most of it. Its rows compress to a few dozen bytes each, so the file is
// small (7000×7000: well under a MiB), and it is built in milliseconds: one
// row is compressed on its own (a self-contained run of deflate blocks) and
// repeated.
func CutPNG16(w, h uint32, keep float64) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 16, 6
	writeChunk(&b, "IHDR", ihdr)

	var row bytes.Buffer
	fw, _ := flate.NewWriter(&row, flate.BestCompression)
	fw.Write(make([]byte, 1+int(w)*8)) // filter byte "none", then the pixels
	fw.Flush()                         // ends the row's blocks on a byte boundary, none of them final
	z := []byte{0x78, 0xda}            // zlib header: deflate, 32 KiB window
	z = append(z, bytes.Repeat(row.Bytes(), int(h))...)
	writeChunk(&b, "IDAT", z[:int(float64(len(z))*keep)])
	writeChunk(&b, "IEND", nil)
	return b.Bytes()
}

func writeChunk(b *bytes.Buffer, typ string, data []byte) {
	binary.Write(b, binary.BigEndian, uint32(len(data)))
	chunk := append([]byte(typ), data...)
	b.Write(chunk)
	binary.Write(b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
}

// testdata is internal/thumbs/testdata, wherever the test runs from.
func testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}
