package storage

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRelPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want string // "" means ErrUnsafePath
	}{
		{"/recursos/imagenes/productos/ab/x.webp", "recursos/imagenes/productos/ab/x.webp"},
		{"/recursos/imagenes/productos/1700000000-vela de lavanda.jpg", "recursos/imagenes/productos/1700000000-vela de lavanda.jpg"},
		// A stored url is a file name, not an encoded path: %2e%2e is a literal, harmless name.
		{"/recursos/imagenes/%2e%2e/x.png", "recursos/imagenes/%2e%2e/x.png"},
		{"/recursos/", ""},
		{"/recursos/../etc/passwd", ""},
		{"/recursos/a/../../etc/passwd", ""},
		{"/recursos/./x.png", ""},
		{"/recursos/.papelera/x.png", ""},
		{"/recursos/a//b.png", ""},
		{"/recursos/a/", ""},
		{"/etc/passwd", ""},
		{"recursos/x.png", ""},
		{"https://cdn.example.com/x.png", ""},
		{"/recursos/a\\..\\..\\x.png", ""},
		{"/recursos/a\x00.png", ""},
		{"/recursos/a\n.png", ""},
		{"/recursos/a\x7f.png", ""},
		{"/recursos/" + strings.Repeat("a", 250), ""},
	}
	for _, tt := range tests {
		got, err := RelPath(tt.url)
		if tt.want == "" {
			if !errors.Is(err, ErrUnsafePath) {
				t.Errorf("RelPath(%q) = %q, %v; want ErrUnsafePath", tt.url, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("RelPath(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
}

func TestNewImageURLFansOut(t *testing.T) {
	t.Parallel()
	u := NewImageURL("webp")
	rel, err := RelPath(u)
	if err != nil {
		t.Fatalf("got unsafe url %q: %v", u, err)
	}
	parts := strings.Split(rel, "/")
	if len(parts) != 5 || parts[3] != parts[4][:2] || !strings.HasSuffix(u, ".webp") {
		t.Errorf("got %q, want recursos/imagenes/productos/<2 hex>/<uuid>.webp", u)
	}
	if NewImageURL("png") == NewImageURL("png") {
		t.Error("got the same url twice, want fresh names")
	}
}

func TestTrashNameRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Unix(1795389599, 0)
	name := TrashName(42, at, "/recursos/imagenes/productos/ab/x-y.png")
	if name != "42-1795389599-x-y.png" {
		t.Errorf("got %q, want 42-1795389599-x-y.png", name)
	}
	id, gotAt, base, ok := ParseTrashName(name)
	if !ok || id != 42 || !gotAt.Equal(at) || base != "x-y.png" {
		t.Errorf("got %d %v %q %v, want 42 %v x-y.png true", id, gotAt, base, ok, at)
	}
	for _, bad := range []string{"", "x.png", "0-1-x.png", "a-1-x.png", "1-b-x.png", "1-2-"} {
		if _, _, _, ok := ParseTrashName(bad); ok {
			t.Errorf("ParseTrashName(%q) ok, want not ok", bad)
		}
	}
}

func TestSameDevice(t *testing.T) {
	t.Parallel()
	if err := sameDevice([]string{"a", "b", "c"}, []uint64{7, 7, 7}); err != nil {
		t.Errorf("got %v for one device, want nil", err)
	}
	err := sameDevice([]string{"recursos", ".papelera", ".tmp"}, []uint64{7, 8, 7})
	if !errors.Is(err, ErrCrossDevice) || !strings.Contains(err.Error(), ".papelera") {
		t.Errorf("got %v, want ErrCrossDevice naming .papelera", err)
	}
}
