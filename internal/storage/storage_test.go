package storage

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	pngHead  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	jpegHead = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0}
	gifHead  = []byte("GIF89a")
	webpHead = []byte("RIFF\x24\x00\x00\x00WEBPVP8 ")
	allTypes = []string{"image/jpeg", "image/png", "image/webp", "image/gif"}
)

func open(t *testing.T) (*Storage, string) {
	t.Helper()
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, root
}

func put(t *testing.T, root, url string, content []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(url))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestMoveRoundTrip(t *testing.T) {
	t.Parallel()
	s, root := open(t)
	url := "/recursos/imagenes/productos/ab/abc.png"
	put(t, root, url, []byte("contenido"))

	moved, err := s.MoveToTrash(t.Context(), url, "1-100-abc.png")
	if err != nil || !moved {
		t.Fatalf("got %v %v, want moved", moved, err)
	}
	if ok, _ := s.LiveExists(t.Context(), url); ok {
		t.Error("got the live file still there, want it moved")
	}
	if ok, _ := s.TrashExists(t.Context(), "1-100-abc.png"); !ok {
		t.Error("got no trash file, want it there")
	}
	if moved, err := s.MoveToTrash(t.Context(), url, "2-100-abc.png"); moved || err != nil {
		t.Errorf("got %v %v for a missing live file, want false nil", moved, err)
	}
	if err := s.MoveFromTrash(t.Context(), "1-100-abc.png", url); err != nil {
		t.Fatalf("move back: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(url)))
	if err != nil || string(b) != "contenido" {
		t.Errorf("got %q %v, want the content back", b, err)
	}
	if err := s.MoveFromTrash(t.Context(), "1-100-abc.png", url); !errors.Is(err, ErrNotExist) {
		t.Errorf("got %v moving a missing trash file, want ErrNotExist", err)
	}
}

func TestMovesNeverOverwrite(t *testing.T) {
	t.Parallel()
	s, root := open(t)
	url := "/recursos/imagenes/productos/x.png"
	put(t, root, url, []byte("live"))
	put(t, root, "/.papelera/1-1-x.png", []byte("trashed"))
	if _, err := s.MoveToTrash(t.Context(), url, "1-1-x.png"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("got %v, want fs.ErrExist", err)
	}
	if err := s.MoveFromTrash(t.Context(), "1-1-x.png", url); !errors.Is(err, fs.ErrExist) {
		t.Errorf("got %v, want fs.ErrExist", err)
	}
	for p, want := range map[string]string{url: "live", "/.papelera/1-1-x.png": "trashed"} {
		if b, _ := os.ReadFile(filepath.Join(root, p)); string(b) != want {
			t.Errorf("got %q at %s, want %q untouched", b, p, want)
		}
	}
}

// Symlinks inside the root that point outside are never followed: the file
// outside is never read, moved or removed.
func TestSymlinksOutAreRefused(t *testing.T) {
	t.Parallel()
	s, root := open(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.png")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	prod := filepath.Join(root, "recursos", "imagenes", "productos")
	if err := os.Symlink(secret, filepath.Join(prod, "file-link.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(prod, "dir-link")); err != nil {
		t.Fatal(err)
	}
	urls := []string{"/recursos/imagenes/productos/file-link.png", "/recursos/imagenes/productos/dir-link/secret.png"}
	ops := map[string]func(url string) error{
		"MoveToTrash": func(u string) error { _, err := s.MoveToTrash(t.Context(), u, "9-9-secret.png"); return err },
		"OpenLive": func(u string) error {
			f, err := s.OpenLive(t.Context(), u)
			if err == nil {
				f.Close()
			}
			return err
		},
		"RemoveLive":    func(u string) error { return s.RemoveLive(t.Context(), u) },
		"LiveInfo":      func(u string) error { _, err := s.LiveInfo(t.Context(), u); return err },
		"MoveFromTrash": func(u string) error { return s.MoveFromTrash(t.Context(), "9-9-secret.png", u) },
	}
	for _, u := range urls {
		for name, op := range ops {
			if err := op(u); err == nil {
				t.Errorf("%s(%q) succeeded, want a refusal", name, u)
			}
			if b, err := os.ReadFile(secret); err != nil || string(b) != "secret" {
				t.Fatalf("%s(%q) touched the file outside the root: %q %v", name, u, b, err)
			}
		}
	}
	var seen []string
	if err := s.WalkLive(t.Context(), func(u string, _ fs.DirEntry) error { seen = append(seen, u); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 0 {
		t.Errorf("WalkLive got %v, want symlinks skipped", seen)
	}
}

// endless yields n bytes of head followed by filler, without holding them.
type endless struct {
	head []byte
	n    int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	for i := range p {
		p[i] = 'x'
	}
	if len(e.head) > 0 {
		c := copy(p, e.head)
		e.head = e.head[c:]
	}
	e.n -= int64(len(p))
	return len(p), nil
}

func TestStage(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	tests := []struct {
		name    string
		r       io.Reader
		allowed []string
		wantCT  string
		wantErr error
	}{
		{"png", bytes.NewReader(append(pngHead, make([]byte, 100)...)), allTypes, "image/png", nil},
		{"jpeg", bytes.NewReader(append(jpegHead, make([]byte, 100)...)), allTypes, "image/jpeg", nil},
		{"gif", bytes.NewReader(append(gifHead, make([]byte, 100)...)), allTypes, "image/gif", nil},
		{"webp", bytes.NewReader(append(webpHead, make([]byte, 100)...)), allTypes, "image/webp", nil},
		{"gif not allowed", bytes.NewReader(append(gifHead, make([]byte, 100)...)), []string{"image/png", "image/jpeg"}, "", ErrNotImage},
		{"text", strings.NewReader("hola, no soy una imagen"), allTypes, "", ErrNotImage},
		{"html posing as png", strings.NewReader("<html><script>alert(1)</script>"), allTypes, "", ErrNotImage},
		{"empty", strings.NewReader(""), allTypes, "", ErrEmpty},
		{"exactly the limit", &endless{head: pngHead, n: limit}, allTypes, "image/png", nil},
		{"one byte over", &endless{head: pngHead, n: limit + 1}, allTypes, "", ErrTooLarge},
		{"a gigabyte", &endless{head: pngHead, n: 1 << 30}, allTypes, "", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, root := open(t)
			st, err := s.Stage(t.Context(), tt.r, limit, tt.allowed)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				if left := listDir(t, filepath.Join(root, ".tmp")); len(left) != 0 {
					t.Errorf("got %v left in staging, want nothing", left)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if st.ContentType != tt.wantCT || len(st.SHA256) != 64 || st.Size <= 0 {
				t.Errorf("got %+v, want type %s, a sha256 and a size", st, tt.wantCT)
			}
			url := NewImageURL(st.Ext)
			if err := s.Publish(t.Context(), st, url); err != nil {
				t.Fatalf("publish: %v", err)
			}
			if info, err := s.LiveInfo(t.Context(), url); err != nil || info.Size() != st.Size {
				t.Errorf("got %v %v, want the published file of %d bytes", info, err, st.Size)
			}
			if left := listDir(t, filepath.Join(root, ".tmp")); len(left) != 0 {
				t.Errorf("got %v left in staging after publish, want nothing", left)
			}
		})
	}
}

func TestPublishRefusesOverwrite(t *testing.T) {
	t.Parallel()
	s, root := open(t)
	url := "/recursos/imagenes/productos/ab/taken.png"
	put(t, root, url, []byte("first"))
	st, err := s.Stage(t.Context(), bytes.NewReader(append(pngHead, 1, 2, 3)), 1<<20, allTypes)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(t.Context(), st, url); !errors.Is(err, fs.ErrExist) {
		t.Errorf("got %v, want fs.ErrExist", err)
	}
	if err := s.Discard(t.Context(), st); err != nil {
		t.Errorf("discard: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(url))); string(b) != "first" {
		t.Errorf("got %q, want the first file untouched", b)
	}
}

func TestWalks(t *testing.T) {
	t.Parallel()
	s, root := open(t)
	want := []string{
		"/recursos/imagenes/productos/00/a.png",
		"/recursos/imagenes/productos/ff/b.webp",
		"/recursos/imagenes/productos/legacy.jpg",
	}
	for _, u := range want {
		put(t, root, u, []byte("x"))
	}
	for i := 0; i < 2500; i++ { // more than one ReadDir batch
		put(t, root, "/.papelera/"+TrashName(int64(i+1), time.Unix(1, 0), "/x/f.png"), []byte("t"))
	}
	var got []string
	if err := s.WalkLive(t.Context(), func(u string, _ fs.DirEntry) error { got = append(got, u); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("WalkLive got %v, want %v", got, want)
	}
	n := 0
	if err := s.WalkTrash(t.Context(), func(string, fs.FileInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 2500 {
		t.Errorf("WalkTrash got %d files, want 2500", n)
	}
	stops := 0
	if err := s.WalkTrash(t.Context(), func(string, fs.FileInfo) error { stops++; return fs.SkipAll }); err != nil || stops != 1 {
		t.Errorf("got %d calls and %v after SkipAll, want 1 and nil", stops, err)
	}
}

func TestCleanStagingAndMarker(t *testing.T) {
	t.Parallel()
	s, root := open(t)
	old := filepath.Join(root, ".tmp", "old.part")
	fresh := filepath.Join(root, ".tmp", "fresh.part")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	os.Chtimes(old, past, past)
	for _, dry := range []bool{true, false} {
		names, err := s.CleanStaging(t.Context(), 24*time.Hour, time.Now(), dry)
		if err != nil || len(names) != 1 || names[0] != "old.part" {
			t.Errorf("dry run %v: got %v %v, want [old.part]", dry, names, err)
		}
		if exists(old) != dry || !exists(fresh) {
			t.Errorf("dry run %v: got old %v fresh %v, want old removed only by the real clean", dry, exists(old), exists(fresh))
		}
	}

	if ok, err := s.MarkerExists(t.Context()); ok || err != nil {
		t.Errorf("got marker %v %v on a new root, want absent", ok, err)
	}
	if err := s.WriteMarker(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteMarker(t.Context()); err != nil {
		t.Errorf("second WriteMarker: %v, want idempotent", err)
	}
	if ok, _ := s.MarkerExists(t.Context()); !ok {
		t.Error("got no marker after WriteMarker")
	}
	if err := s.Usable(t.Context()); err != nil {
		t.Errorf("Usable: %v", err)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
