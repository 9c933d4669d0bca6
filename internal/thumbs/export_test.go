package thumbs

import (
	"bytes"
	"image/color"
	"testing"
)

// Hooks for this package's tests.

// SetBeforeDecode makes s call f(name) when a decode holds its slot and its
// memory, before it reads a pixel (name: the url, or "trash/"+trash name).
func SetBeforeDecode(s *Service, f func(name string)) { s.beforeDecode = f }

// Waiting is how many callers wait on the generation of url at width w.
func Waiting(s *Service, url string, w int) int { return s.flights.waiting(flightKey(url, w)) }

// MemoryFree reports whether n more bytes of the budget could be taken now.
func MemoryFree(s *Service, n int64) bool {
	if s.memory.TryAcquire(n) {
		s.memory.Release(n)
		return true
	}
	return false
}

// DecodedBytes is what px pixels of model m take decoded.
func DecodedBytes(m color.Model, px int64) int64 { return px * bytesPerPixel(m) }

// Weight is what rendering img at width w takes from the memory budget.
func Weight(t testing.TB, img []byte, w int) int64 {
	t.Helper()
	h, err := readHeader(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	return h.weight(w)
}
