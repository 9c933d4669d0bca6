package storage

import (
	"errors"
	"path"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// Trash names always fit in a file name's 255 bytes: a name that fits is
// the url's file name as is (the names files already in the trash have); a
// longer one keeps its beginning, a hash of the whole and its extension,
// and is still recognised as the url's (issue 12: a 245-byte file name made
// a 258-byte trash name, refused, and the delete left the file live).
func TestTrashNameFits(t *testing.T) {
	t.Parallel()
	at := time.Unix(1795389599, 0)
	long := strings.Repeat("v", 241) + ".jpg"
	tests := []struct {
		name      string
		id        int64
		url       string
		want      string // "" when shortened: checked by the rules below
		shortened bool
	}{
		{name: "fits: as is", id: 42, url: "/recursos/imagenes/productos/ab/x-y.png", want: "42-1795389599-x-y.png"},
		{name: "exactly 255: as is", id: 7, url: "/recursos/" + strings.Repeat("a", 238) + ".png",
			want: "7-1795389599-" + strings.Repeat("a", 238) + ".png"},
		{name: "one byte over", id: 7, url: "/recursos/" + strings.Repeat("a", 239) + ".png", shortened: true},
		{name: "245 bytes", id: 1, url: "/recursos/" + long, shortened: true},
		{name: "245 bytes, the largest id", id: 1<<63 - 1, url: "/recursos/" + long, shortened: true},
		{name: "a product image, the largest id", id: 1<<63 - 1, url: ProductPrefix + strings.Repeat("p", 222) + ".png", shortened: true},
		{name: "two-byte letters cut between them", id: 12, url: "/recursos/" + strings.Repeat("ñ", 120) + "a.jpg", shortened: true},
		{name: "four-byte letters", id: 123, url: "/recursos/" + strings.Repeat("🕯", 60) + "x.webp", shortened: true},
		{name: "a long extension goes with the rest", id: 5, url: "/recursos/" + strings.Repeat("x", 200) + "." + strings.Repeat("e", 44), shortened: true},
		{name: "no extension, ~ in it", id: 5, url: "/recursos/f/" + strings.Repeat("~", 243), shortened: true},
		{name: "hyphens and dots", id: 99, url: "/recursos/" + strings.Repeat("a-b.", 61) + "c.gif", shortened: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TrashName(tt.id, at, tt.url)
			if _, err := trashPath(got); err != nil || len(got) > MaxNameLen || !utf8.ValidString(got) {
				t.Fatalf("TrashName = %q (%d bytes): %v; want a valid trash name of at most %d bytes", got, len(got), err, MaxNameLen)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			id, gotAt, base, ok := ParseTrashName(got)
			if !ok || id != tt.id || !gotAt.Equal(at) {
				t.Errorf("ParseTrashName(%q) = %d %v %v, want %d %v", got, id, gotAt, ok, tt.id, at)
			}
			if !IsTrashNameOf(got, tt.url) {
				t.Errorf("IsTrashNameOf(%q, url) = false, want true", got)
			}
			if other := tt.url + "x"; IsTrashNameOf(got, other) {
				t.Errorf("IsTrashNameOf(%q, another url) = true, want false", got)
			}
			stem, isShort := ShortenedStem(got)
			if isShort != tt.shortened || (base == path.Base(tt.url)) == tt.shortened {
				t.Fatalf("%q: ShortenedStem says %v, file name kept whole %v; want shortened %v", got, isShort, base == path.Base(tt.url), tt.shortened)
			}
			if !tt.shortened {
				return
			}
			if !strings.HasPrefix(path.Base(tt.url), stem) || len(stem) < 180 {
				t.Errorf("stem %q: want a beginning of the file name of at least 180 bytes", stem)
			}
			if ext := path.Ext(tt.url); len(ext) <= 10 && !strings.HasSuffix(got, ext) {
				t.Errorf("%q lost its extension %q", got, ext)
			}
			// Another entry of the same url: its own name, which is the url's too.
			other := tt.id - 1
			if other < 1 {
				other = 1000
			}
			again := TrashName(other, at.Add(time.Hour), tt.url)
			if again == got || !IsTrashNameOf(again, tt.url) {
				t.Errorf("second entry's name %q: want another name, still the url's", again)
			}
		})
	}
}

// Two long names that begin alike differ by their hash, so recovery tells
// their rows apart.
func TestShortenedNamesDiffer(t *testing.T) {
	t.Parallel()
	a := "/recursos/" + strings.Repeat("a", 240) + "1.png"
	b := "/recursos/" + strings.Repeat("a", 240) + "2.png"
	na, nb := TrashName(3, time.Unix(1, 0), a), TrashName(3, time.Unix(1, 0), b)
	if na == nb || IsTrashNameOf(na, b) || IsTrashNameOf(nb, a) {
		t.Errorf("got %q and %q: want two names, each only its own url's", na, nb)
	}
	sa, _ := ShortenedStem(na)
	sb, _ := ShortenedStem(nb)
	if sa != sb {
		t.Errorf("stems %q and %q: want the same beginning", sa, sb)
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

// Canonical names the file a refused url still shows when served, and
// nothing for a url that is canonical or names no file of ours.
func TestCanonical(t *testing.T) {
	cases := []struct {
		url, want string
		ok        bool
	}{
		{"/recursos/imagenes/productos//doble.png", "/recursos/imagenes/productos/doble.png", true},
		{"/recursos//a///b.png", "/recursos/a/b.png", true},
		{"/recursos/imagenes/./productos/punto.png", "/recursos/imagenes/productos/punto.png", true},
		{"/recursos/otra/../imagenes/arriba.png", "/recursos/imagenes/arriba.png", true},
		{"/recursos/imagenes/productos/ab/abc.png", "", false}, // canonical already
		{"/recursos/../../etc/passwd", "", false},              // out of the root
		{"/recursos/a/../.papelera/1-1-x.png", "", false},      // the trash
		{"/recursos/..", "", false},
		{"https://cdn.example.com//x.png", "", false}, // not local
	}
	for _, tc := range cases {
		got, ok := Canonical(tc.url)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", tc.url, got, ok, tc.want, tc.ok)
		}
	}
}
