package objstore_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    objstore.Options
		wantErr string
	}{
		{in: "s3://fotos", want: objstore.Options{Bucket: "fotos", Region: "us-east-1"}},
		{in: "s3://fotos/tienda/img/?region=eu-west-1", want: objstore.Options{Bucket: "fotos", Prefix: "tienda/img", Region: "eu-west-1"}},
		{in: "s3://fotos?endpoint=http://127.0.0.1:9000&path_style=true",
			want: objstore.Options{Bucket: "fotos", Region: "us-east-1", Endpoint: "http://127.0.0.1:9000", PathStyle: true}},
		{in: "s3://fotos?endpoint=https://abc.r2.cloudflarestorage.com&region=auto",
			want: objstore.Options{Bucket: "fotos", Region: "auto", Endpoint: "https://abc.r2.cloudflarestorage.com"}},
		{in: "file:///srv/fotos", wantErr: "scheme"},
		{in: "s3:///prefix", wantErr: "no bucket"},
		{in: "s3://key:secret@fotos", wantErr: "credentials"},
		{in: "s3://fotos/../x", wantErr: "hidden segment"},
		{in: "s3://fotos/a//b", wantErr: "empty or hidden"},
		{in: "s3://fotos?endpoint=ftp://x", wantErr: "endpoint"},
		{in: "s3://fotos?endpoint=http://x/path", wantErr: "endpoint"},
		{in: "s3://fotos?path_style=quizas", wantErr: "path_style"},
		{in: "s3://fotos?bucket=otro", wantErr: "unknown parameter"},
		{in: "s3://fotos?path_style=true&path_style=false", wantErr: "given 2 times"},
		{in: "s3://fotos\x7f", wantErr: "not a url"},
	}
	for _, tc := range cases {
		got, err := objstore.ParseURL(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: got %+v %v, want an error about %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, d)
		}
	}
}

// A bucket that cannot be used stops Open with storage.ErrUnavailable, at
// once and never a hang.
func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	good := s3test.Bucket(t)
	closed := closedPort(t)
	cases := []struct {
		name string
		edit func(o *objstore.Options)
	}{
		{"missing bucket", func(o *objstore.Options) { o.Bucket = "no-existe-" + strings.ToLower(t.Name()[:4]) }},
		{"wrong secret", func(o *objstore.Options) { o.SecretKey = "not-the-secret" }},
		{"unknown key", func(o *objstore.Options) { o.AccessKey = "nadie" }},
		{"anonymous", func(o *objstore.Options) { o.AccessKey, o.SecretKey = "", "" }},
		{"unreachable", func(o *objstore.Options) { o.Endpoint = "http://" + closed; o.Timeout = time.Second }},
	}
	for _, tc := range cases {
		o := good
		tc.edit(&o)
		s, err := objstore.Open(t.Context(), o)
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s: got %v %v, want ErrUnavailable", tc.name, s, err)
		}
	}
	s, err := objstore.Open(t.Context(), good)
	if err != nil {
		t.Fatalf("the good options: %v", err)
	}
	s.Close()
}

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestPresign(t *testing.T) {
	t.Parallel()
	s := s3test.New(t, "p")
	b := backend{Backend: s}
	storagetest.Upload(t, b, url1)
	u, err := s.Presign(t.Context(), url1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, pngBytes) || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GET presigned: %d %s, %d bytes; want 200 image/png with the upload", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	if _, err := s.Presign(t.Context(), "/recursos/imagenes/productos/no/existe.png", time.Minute); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("presign a missing object: got %v, want ErrNotExist", err)
	}
	if _, err := s.Presign(t.Context(), "/recursos/../x.png", time.Minute); !errors.Is(err, storage.ErrUnsafePath) {
		t.Errorf("presign a bad url: got %v, want ErrUnsafePath", err)
	}
}

// Two prefixes in one bucket are two storages: neither sees the other's
// objects, marker or trash.
func TestPrefixesAreApart(t *testing.T) {
	t.Parallel()
	o := s3test.Bucket(t)
	open := func(prefix string) *objstore.Store {
		o := o
		o.Prefix = prefix
		s, err := objstore.Open(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open("a"), open("b")
	storagetest.Upload(t, backend{Backend: a}, url1)
	if err := a.WriteMarker(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.MoveToTrash(t.Context(), url1, "1-1-abc.png"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.MarkerExists(t.Context()); ok {
		t.Error("b sees a's marker")
	}
	if ok, _ := b.TrashExists(t.Context(), "1-1-abc.png"); ok {
		t.Error("b sees a's trash")
	}
	n := 0
	if err := b.WalkTrash(t.Context(), func(string, fs.FileInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("b's trash walk: %d objects, %v; want none", n, err)
	}
}

// A move cut between its copy and its delete leaves the same bytes under
// both keys; the next move of that object finishes it (deletes the source)
// instead of refusing, and a different object there is still refused.
func TestInterruptedMoveFinishes(t *testing.T) {
	t.Parallel()
	b := s3backend(t, "")
	cases := []struct {
		name     string
		src, dst string
		move     func() error
	}{
		{"to the trash", "recursos/imagenes/productos/ab/abc.png", ".papelera/1-1-abc.png",
			func() error { _, err := b.MoveToTrash(t.Context(), url1, "1-1-abc.png"); return err }},
		{"out of the trash", ".papelera/2-1-abc.png", "recursos/imagenes/productos/ab/abc.png",
			func() error { return b.MoveFromTrash(t.Context(), "2-1-abc.png", url1) }},
		{"in the trash", ".papelera/3-1-abc.png", ".papelera/4-1-abc.png",
			func() error { return b.RenameTrash(t.Context(), "3-1-abc.png", "4-1-abc.png") }},
	}
	for _, tc := range cases {
		b.putRaw(t, tc.src, pngBytes)
		b.putRaw(t, tc.dst, pngBytes)
		if err := tc.move(); err != nil {
			t.Errorf("%s: %v, want the move finished", tc.name, err)
		}
		if b.exists(t, tc.src) || !b.exists(t, tc.dst) {
			t.Errorf("%s: source %v destination %v, want only the destination", tc.name, b.exists(t, tc.src), b.exists(t, tc.dst))
		}
		b.remove(t, tc.dst)
		b.putRaw(t, tc.src, pngBytes)
		b.putRaw(t, tc.dst, []byte("otra"))
		if err := tc.move(); !errors.Is(err, fs.ErrExist) {
			t.Errorf("%s over a different object: %v, want fs.ErrExist", tc.name, err)
		}
		b.remove(t, tc.src)
		b.remove(t, tc.dst)
	}
}

// A bucket that disappears is an outage, never "every file already gone":
// the delete protocol would otherwise record the files as missing.
func TestMissingBucketIsUnavailable(t *testing.T) {
	t.Parallel()
	o := s3test.Server(t)
	o.Bucket = "imagenes-no-existe"
	s, err := objstore.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ops := map[string]func() error{
		"MoveToTrash":   func() error { _, err := s.MoveToTrash(t.Context(), url1, "1-1-abc.png"); return err },
		"MoveFromTrash": func() error { return s.MoveFromTrash(t.Context(), "1-1-abc.png", url1) },
		"LiveExists":    func() error { _, err := s.LiveExists(t.Context(), url1); return err },
		"TrashExists":   func() error { _, err := s.TrashExists(t.Context(), "1-1-abc.png"); return err },
		"OpenLive":      func() error { _, err := s.OpenLive(t.Context(), url1); return err },
		"Presign":       func() error { _, err := s.Presign(t.Context(), url1, time.Minute); return err },
		"MarkerExists":  func() error { _, err := s.MarkerExists(t.Context()); return err },
		"WalkTrash":     func() error { return s.WalkTrash(t.Context(), func(string, fs.FileInfo) error { return nil }) },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s: got %v, want ErrUnavailable", name, err)
		}
	}
}

// PutLive (seed's fast path) writes the object at the url's key, under the
// prefix, with its type; it refuses to overwrite and refuses unsafe urls
// before any request.
func TestPutLive(t *testing.T) {
	t.Parallel()
	b := s3backend(t, "tienda")
	cases := []struct {
		name string
		url  string
		data []byte
		want error // nil: the object is there with data and image/png
	}{
		{"new object", url1, pngBytes, nil},
		{"the same url again", url1, []byte("otra"), fs.ErrExist},
		{"a url that climbs out", "/recursos/../.papelera/x.png", pngBytes, storage.ErrUnsafePath},
		{"a hidden segment", "/recursos/.tmp/x.png", pngBytes, storage.ErrUnsafePath},
	}
	for _, tc := range cases {
		err := b.s3.PutLive(t.Context(), tc.url, tc.data, "image/png")
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			continue
		}
		if tc.want != nil {
			continue
		}
		f, err := b.s3.OpenLive(t.Context(), tc.url)
		if err != nil {
			t.Fatalf("%s: open: %v", tc.name, err)
		}
		got, err := io.ReadAll(f)
		f.Close()
		fi, _ := f.Stat()
		if err != nil || !bytes.Equal(got, tc.data) || fi.(objstore.Info).ContentType() != "image/png" {
			t.Errorf("%s: read back %d bytes (%v), type %q; want the data as image/png", tc.name, len(got), err, fi.(objstore.Info).ContentType())
		}
		if !b.exists(t, "recursos/imagenes/productos/ab/abc.png") {
			t.Errorf("%s: no object at the prefixed key", tc.name)
		}
	}
}
