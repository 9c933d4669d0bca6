package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// checkRel asserts what every accepted url must satisfy to be safe to
// join to the root: a clean relative path below recursos/, no "..", no
// backslash or NUL, and lexically inside the root once joined.
func checkRel(t *testing.T, u, rel string) {
	t.Helper()
	if "/"+rel != u {
		t.Fatalf("RelPath(%q) = %q, want the url without its leading slash", u, rel)
	}
	if path.Clean(rel) != rel {
		t.Fatalf("RelPath(%q) = %q, want a clean path (path.Clean gives %q)", u, rel, path.Clean(rel))
	}
	if !strings.HasPrefix(rel, "recursos/") {
		t.Fatalf("RelPath(%q) = %q, want it under recursos/", u, rel)
	}
	if slices.Contains(strings.Split(rel, "/"), "..") || strings.ContainsAny(rel, "\\\x00") {
		t.Fatalf("RelPath(%q) = %q, want no '..' segment, backslash or NUL", u, rel)
	}
	const root = "/srv/storage"
	joined := filepath.Join(root, filepath.FromSlash(rel))
	if r, err := filepath.Rel(root, joined); err != nil || r == ".." || strings.HasPrefix(r, "../") || r != filepath.FromSlash(rel) {
		t.Fatalf("RelPath(%q) = %q joins to %q, outside or not equal to the root-relative path", u, rel, joined)
	}
}

// FuzzRelPath feeds RelPath stored urls and the static route's decoded
// request paths (url.PathUnescape of what follows /recursos/, as
// handlers.staticHandler does). It never panics; every accepted path passes
// checkRel; every refusal is ErrUnsafePath.
func FuzzRelPath(f *testing.F) {
	for _, s := range []string{
		"/recursos/imagenes/productos/ab/x.webp", "/recursos/../etc/passwd", "/recursos/%2e%2e/%2e%2e/etc/passwd",
		"/recursos/%252e%252e/x", "/recursos/..%5c..%5cx", "/recursos/a%00.png", "/recursos/%c0%ae%c0%ae/x",
		"/recursos/a/./b", "/recursos//a", "/recursos/.papelera/1-2-x.png", "recursos/x", "https://cdn/x.png",
		"/recursos/a\\b", "/recursos/ñ/é.png", "/recursos/a/b/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		if rel, err := RelPath(u); err == nil {
			checkRel(t, u, rel)
		} else if !errors.Is(err, ErrUnsafePath) {
			t.Fatalf("RelPath(%q): got %v, want ErrUnsafePath", u, err)
		}
		// The static route: the request path after /recursos/, decoded once.
		raw := strings.TrimPrefix(u, LivePrefix)
		if dec, err := url.PathUnescape(raw); err == nil {
			if rel, err := RelPath(LivePrefix + dec); err == nil {
				checkRel(t, LivePrefix+dec, rel)
			}
		}
	})
}

// FuzzTrashName: ParseTrashName never panics, a parsed name prints back to
// itself, and trashPath never lets a name leave the trash folder.
func FuzzTrashName(f *testing.F) {
	f.Add("12-1700000000-x.png")
	f.Add("0-1-x")
	f.Add("1-2-../../etc/passwd")
	f.Add("-1--2-")
	f.Add("9223372036854775808-1-x")
	f.Add("9223372036854775807-1795389599-" + strings.Repeat("ñ", 120) + "a.jpg")
	f.Fuzz(func(t *testing.T, name string) {
		if id, ts, base, ok := ParseTrashName(name); ok {
			if id < 1 || base == "" {
				t.Fatalf("ParseTrashName(%q) = %d, %q: want a positive id and a base", name, id, base)
			}
			// Canonical spellings (as TrashName writes them) round-trip
			// when they fit; any file name gives a name that fits and is
			// recognised as its url's.
			if canonical(name) && !strings.Contains(base, "/") {
				url := "/recursos/" + base
				got := TrashName(id, ts, url)
				if len(name) <= MaxNameLen && got != name {
					t.Fatalf("TrashName(ParseTrashName(%q)) = %q, want the name back", name, got)
				}
				if len(got) > MaxNameLen || !IsTrashNameOf(got, url) {
					t.Fatalf("TrashName(%d, %v, %q) = %q (%d bytes): want at most %d bytes, recognised as the url's", id, ts, url, got, len(got), MaxNameLen)
				}
				stem, ok := ShortenedStem(got)
				if ok && !strings.HasPrefix(base, stem) {
					t.Fatalf("ShortenedStem(%q) = %q, not a beginning of %q", got, stem, base)
				}
				if _, _, kept, _ := ParseTrashName(got); kept != base && !ok {
					t.Fatalf("ShortenedStem(%q): not ok for a shortened name", got)
				}
			}
		}
		if p, err := trashPath(name); err == nil {
			if dir, file := path.Split(p); dir != trashDir+"/" || file != name || file == ".." || strings.ContainsAny(file, "/\\\x00") {
				t.Fatalf("trashPath(%q) = %q, want one plain name inside %s", name, p, trashDir)
			}
		} else if !errors.Is(err, ErrUnsafePath) {
			t.Fatalf("trashPath(%q): got %v, want ErrUnsafePath", name, err)
		}
	})
}

// canonical reports whether the id and time fields of a trash name are
// plain decimals without sign or leading zeros, as TrashName writes them.
func canonical(name string) bool {
	parts := strings.SplitN(name, "-", 3)
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts[:2] {
		if p == "" || (len(p) > 1 && p[0] == '0') || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// FuzzStage streams arbitrary bytes into Stage with arbitrary limits and
// type lists. It never panics; on error nothing is left in .tmp; on success
// the type is one of allowed and is what the bytes say (never the client's
// claim), the size is within the limit, and the staged file holds exactly
// the input with the reported sha256.
func FuzzStage(f *testing.F) {
	root := f.TempDir()
	s, err := Open(root)
	if err != nil {
		f.Fatalf("open: %v", err)
	}
	f.Cleanup(func() { s.Close() })
	f.Add(append(slices.Clone(pngHead), make([]byte, 100)...), uint32(1<<20), uint8(0xF), false)
	f.Add(append(slices.Clone(jpegHead), 1, 2, 3), uint32(10), uint8(0x3), true)
	f.Add(append(slices.Clone(gifHead), 1), uint32(1<<20), uint8(0x3), false)
	f.Add(append(slices.Clone(webpHead), 0), uint32(1<<20), uint8(0x4), false)
	f.Add([]byte("<html><script>alert(1)</script>"), uint32(1<<20), uint8(0xF), false)
	f.Add([]byte{}, uint32(0), uint8(0xF), false)
	f.Add(append(slices.Clone(pngHead), make([]byte, 600)...), uint32(600), uint8(0xF), true)
	staging := filepath.Join(root, stagingDir)
	f.Fuzz(func(t *testing.T, data []byte, limit uint32, mask uint8, oneByte bool) {
		var allowed []string
		for i, ct := range allTypes {
			if mask&(1<<i) != 0 {
				allowed = append(allowed, ct)
			}
		}
		lim := int64(limit % (4 << 20))
		var r io.Reader = bytes.NewReader(data)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		st, err := s.Stage(t.Context(), r, lim, allowed)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Stage: got %v, want ErrEmpty, ErrNotImage or ErrTooLarge", err)
			}
			if left := listDir(t, staging); len(left) != 0 {
				t.Fatalf("Stage failed with %v and left %v in .tmp, want nothing", err, left)
			}
			return
		}
		defer func() {
			if err := s.Discard(t.Context(), st); err != nil {
				t.Fatalf("discard: %v", err)
			}
			if left := listDir(t, staging); len(left) != 0 {
				t.Fatalf("got %v in .tmp after Discard, want nothing", left)
			}
		}()
		head := data[:min(len(data), 512)]
		if !slices.Contains(allowed, st.ContentType) || st.ContentType != http.DetectContentType(head) {
			t.Fatalf("Stage accepted type %q (bytes say %q), allowed %v", st.ContentType, http.DetectContentType(head), allowed)
		}
		if st.Ext != extOf[st.ContentType] || st.Ext == "" {
			t.Fatalf("got extension %q for %s, want %q", st.Ext, st.ContentType, extOf[st.ContentType])
		}
		if st.Size != int64(len(data)) || st.Size > lim {
			t.Fatalf("got size %d, want %d within the limit %d", st.Size, len(data), lim)
		}
		sum := sha256.Sum256(data)
		if st.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("got sha256 %s, want %x", st.SHA256, sum)
		}
		got, err := os.ReadFile(filepath.Join(staging, st.Name))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("staged file: got %d bytes, %v; want the %d input bytes", len(got), err, len(data))
		}
	})
}
