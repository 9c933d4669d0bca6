package storagetest

// The storage conformance suite (the shape of Go CDK's blob/drivertest):
// every operation the protocol, the janitor and the routes use, with the
// same expectations on every driver. Each driver's own test calls
// RunConformance with a Harness that makes it on its real service (a
// folder in t.TempDir(), a bucket on the test MinIO).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/storage"
)

// Driver is one storage under the suite, with a way to write a key (a path
// below the root: "recursos/…", ".papelera/…") behind its back, as an
// operator, a crash or another program would.
type Driver struct {
	storage.Backend
	PutRaw func(t *testing.T, key string, data []byte)
}

// Harness makes a fresh Driver for each test of the suite, and says the
// Capabilities the driver must report.
type Harness struct {
	Make         func(t *testing.T) Driver
	Capabilities storage.Capabilities
}

// RunConformance runs the suite on h's driver, each test a subtest.
func RunConformance(t *testing.T, h Harness) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"Moves", testMoves},
		{"Refusals", testRefusals},
		{"StageRefusals", testStageRefusals},
		{"Walks", testWalks},
		{"EndedContext", testEndedContext},
		{"Capabilities", testCapabilities},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

// forEach runs fn on a fresh driver of h.
func forEach(t *testing.T, h Harness, fn func(t *testing.T, b Driver)) {
	t.Helper()
	fn(t, h.Make(t))
}

var (
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte("p"), 100)...)
	allTypes = []string{"image/jpeg", "image/png", "image/webp", "image/gif"}
)

const url1 = "/recursos/imagenes/productos/ab/abc.png"

// Upload stages and publishes a small PNG at url, failing t otherwise.
func Upload(t *testing.T, b storage.Backend, url string) {
	t.Helper()
	st, err := b.Stage(t.Context(), bytes.NewReader(pngBytes), 1<<20, allTypes)
	if err != nil {
		t.Fatalf("stage: %v", err)
	}
	if err := b.Publish(t.Context(), st, url); err != nil {
		t.Fatalf("publish %s: %v", url, err)
	}
}

// ReadLive returns the bytes of url's live file, failing t otherwise.
func ReadLive(t *testing.T, b storage.Backend, url string) []byte {
	t.Helper()
	f, err := b.OpenLive(t.Context(), url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return data
}

// Exists reports whether url is live and trash is in the trash (an empty
// name is not asked), failing t on an error.
func Exists(t *testing.T, b storage.Backend, url, trash string) (live, inTrash bool) {
	t.Helper()
	var err error
	if url != "" {
		if live, err = b.LiveExists(t.Context(), url); err != nil {
			t.Fatalf("live exists %s: %v", url, err)
		}
	}
	if trash != "" {
		if inTrash, err = b.TrashExists(t.Context(), trash); err != nil {
			t.Fatalf("trash exists %s: %v", trash, err)
		}
	}
	return live, inTrash
}

func testMoves(t *testing.T, h Harness) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, b Driver)
	}{
		{"upload then read back", func(t *testing.T, b Driver) {
			Upload(t, b, url1)
			if got := ReadLive(t, b, url1); !bytes.Equal(got, pngBytes) {
				t.Errorf("read back %d bytes, want %d", len(got), len(pngBytes))
			}
		}},
		{"publish never overwrites", func(t *testing.T, b Driver) {
			Upload(t, b, url1)
			st, err := b.Stage(t.Context(), bytes.NewReader(pngBytes), 1<<20, allTypes)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(t.Context(), st, url1); !errors.Is(err, fs.ErrExist) {
				t.Errorf("second publish: got %v, want fs.ErrExist", err)
			}
			if err := b.Discard(t.Context(), st); err != nil {
				t.Errorf("discard: %v", err)
			}
		}},
		{"to the trash and back", func(t *testing.T, b Driver) {
			Upload(t, b, url1)
			moved, err := b.MoveToTrash(t.Context(), url1, "1-100-abc.png")
			if err != nil || !moved {
				t.Fatalf("move to trash: got %v %v, want moved", moved, err)
			}
			if live, inTrash := Exists(t, b, url1, "1-100-abc.png"); live || !inTrash {
				t.Fatalf("after the move: live %v trash %v, want false true", live, inTrash)
			}
			if err := b.MoveFromTrash(t.Context(), "1-100-abc.png", url1); err != nil {
				t.Fatalf("move back: %v", err)
			}
			if live, inTrash := Exists(t, b, url1, "1-100-abc.png"); !live || inTrash {
				t.Fatalf("after the move back: live %v trash %v, want true false", live, inTrash)
			}
			if got := ReadLive(t, b, url1); !bytes.Equal(got, pngBytes) {
				t.Errorf("content changed by the round trip")
			}
		}},
		{"a missing live file is not moved, not an error", func(t *testing.T, b Driver) {
			moved, err := b.MoveToTrash(t.Context(), url1, "1-100-abc.png")
			if moved || err != nil {
				t.Errorf("got %v %v, want false nil", moved, err)
			}
			if _, inTrash := Exists(t, b, "", "1-100-abc.png"); inTrash {
				t.Error("a trash file appeared from nothing")
			}
		}},
		{"a move to an existing trash name is refused and keeps the live file", func(t *testing.T, b Driver) {
			Upload(t, b, url1)
			b.PutRaw(t, ".papelera/1-100-abc.png", []byte("other"))
			if _, err := b.MoveToTrash(t.Context(), url1, "1-100-abc.png"); !errors.Is(err, fs.ErrExist) {
				t.Errorf("got %v, want fs.ErrExist", err)
			}
			if live, _ := Exists(t, b, url1, ""); !live {
				t.Error("the live file is gone after a refused move")
			}
		}},
		{"restoring over a live file is refused", func(t *testing.T, b Driver) {
			Upload(t, b, url1)
			b.PutRaw(t, ".papelera/1-100-abc.png", []byte("other"))
			if err := b.MoveFromTrash(t.Context(), "1-100-abc.png", url1); !errors.Is(err, fs.ErrExist) {
				t.Errorf("got %v, want fs.ErrExist", err)
			}
			if _, inTrash := Exists(t, b, "", "1-100-abc.png"); !inTrash {
				t.Error("the trash file is gone after a refused restore")
			}
		}},
		{"restoring a missing trash file is ErrNotExist", func(t *testing.T, b Driver) {
			if err := b.MoveFromTrash(t.Context(), "1-100-abc.png", url1); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("got %v, want ErrNotExist", err)
			}
		}},
		{"rename in the trash", func(t *testing.T, b Driver) {
			b.PutRaw(t, ".papelera/1-100-abc.png", pngBytes)
			if err := b.RenameTrash(t.Context(), "1-100-abc.png", "2-100-abc.png"); err != nil {
				t.Fatalf("rename: %v", err)
			}
			if _, old := Exists(t, b, "", "1-100-abc.png"); old {
				t.Error("the old name is still there")
			}
			if _, renamed := Exists(t, b, "", "2-100-abc.png"); !renamed {
				t.Error("the new name is not there")
			}
			b.PutRaw(t, ".papelera/3-100-abc.png", []byte("otra imagen"))
			if err := b.RenameTrash(t.Context(), "3-100-abc.png", "2-100-abc.png"); !errors.Is(err, fs.ErrExist) {
				t.Errorf("rename over an existing name: got %v, want fs.ErrExist", err)
			}
		}},
		{"removes, present or not", func(t *testing.T, b Driver) {
			Upload(t, b, url1)
			b.PutRaw(t, ".papelera/1-100-abc.png", pngBytes)
			for i := 0; i < 2; i++ {
				if err := b.RemoveLive(t.Context(), url1); err != nil {
					t.Errorf("remove live (%d): %v", i, err)
				}
				if err := b.RemoveTrash(t.Context(), "1-100-abc.png"); err != nil {
					t.Errorf("remove trash (%d): %v", i, err)
				}
			}
			if live, inTrash := Exists(t, b, url1, "1-100-abc.png"); live || inTrash {
				t.Errorf("after removes: live %v trash %v, want none", live, inTrash)
			}
		}},
		{"removes a batch: present, gone, refused, past one request", func(t *testing.T, b Driver) {
			// 1 001 names: two multi-object deletes on a bucket.
			names := make([]string, 1001)
			for i := range names {
				names[i] = fmt.Sprintf("%d-100-abc.png", i+1)
				if i%2 == 0 { // the odd ones are gone already
					b.PutRaw(t, ".papelera/"+names[i], pngBytes)
				}
			}
			failed, err := b.RemoveTrashBatch(context.Background(), append(names, "../x"))
			if err != nil {
				t.Fatalf("remove batch: %v", err)
			}
			if len(failed) != 1 || !errors.Is(failed["../x"], storage.ErrUnsafePath) {
				t.Errorf("failed %v, want only ../x refused (ErrUnsafePath)", failed)
			}
			for _, n := range names {
				if _, inTrash := Exists(t, b, "", n); inTrash {
					t.Errorf("%s is still in the trash", n)
				}
			}
		}},
		{"a batch whose context ended removes nothing it answers for", func(t *testing.T, b Driver) {
			b.PutRaw(t, ".papelera/1-100-abc.png", pngBytes)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			failed, err := b.RemoveTrashBatch(ctx, []string{"1-100-abc.png", "2-100-abc.png"})
			if err == nil || len(failed) != 2 {
				t.Errorf("got failed %v, %v; want both names failed and an error", failed, err)
			}
		}},
		{"open a missing file is ErrNotExist", func(t *testing.T, b Driver) {
			if _, err := b.OpenLive(t.Context(), url1); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("got %v, want ErrNotExist", err)
			}
		}},
		{"open seeks and stats", func(t *testing.T, b Driver) {
			Upload(t, b, url1)
			f, err := b.OpenLive(t.Context(), url1)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil || fi.Size() != int64(len(pngBytes)) || fi.ModTime().IsZero() {
				t.Fatalf("stat: %v size %d, want %d and a time", err, fi.Size(), len(pngBytes))
			}
			if _, err := f.Seek(4, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 4)
			if _, err := io.ReadFull(f, got); err != nil || !bytes.Equal(got, pngBytes[4:8]) {
				t.Errorf("read after seek: %q %v, want %q", got, err, pngBytes[4:8])
			}
		}},
		{"marker", func(t *testing.T, b Driver) {
			if ok, err := b.MarkerExists(t.Context()); ok || err != nil {
				t.Fatalf("new storage: marker %v %v, want absent", ok, err)
			}
			for i := 0; i < 2; i++ {
				if err := b.WriteMarker(t.Context()); err != nil {
					t.Fatalf("write marker (%d): %v", i, err)
				}
			}
			if ok, err := b.MarkerExists(t.Context()); !ok || err != nil {
				t.Errorf("marker %v %v, want present", ok, err)
			}
		}},
		{"usable", func(t *testing.T, b Driver) {
			if err := b.Usable(t.Context()); err != nil {
				t.Errorf("usable: %v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEach(t, h, tc.run)
		})
	}
}

func testRefusals(t *testing.T, h Harness) {
	t.Parallel()
	badURLs := []string{
		"/recursos/../etc/passwd", "/recursos/imagenes/../../x.png", "/recursos/.papelera/1-1-a.png",
		"/recursos/a\\b.png", "/recursos/a\x00.png", "/etc/passwd", "/recursos/", "/recursos//a.png",
		"https://cdn.example.com/a.png", "/" + strings.Repeat("a", 300),
	}
	badTrash := []string{"", "../x", ".x", "a/b", "a\\b", "a\x00b"}
	forEach(t, h, func(t *testing.T, b Driver) {
		for _, u := range badURLs {
			ops := map[string]error{}
			_, ops["MoveToTrash"] = b.MoveToTrash(t.Context(), u, "1-1-a.png")
			ops["MoveFromTrash"] = b.MoveFromTrash(t.Context(), "1-1-a.png", u)
			ops["RemoveLive"] = b.RemoveLive(t.Context(), u)
			_, ops["LiveExists"] = b.LiveExists(t.Context(), u)
			_, ops["OpenLive"] = b.OpenLive(t.Context(), u)
			ops["Publish"] = b.Publish(t.Context(), &storage.Staged{Name: "x.part"}, u)
			for op, err := range ops {
				if !errors.Is(err, storage.ErrUnsafePath) {
					t.Errorf("%s(%q): got %v, want ErrUnsafePath", op, u, err)
				}
			}
		}
		Upload(t, b, url1)
		for _, n := range badTrash {
			ops := map[string]error{}
			_, ops["MoveToTrash"] = b.MoveToTrash(t.Context(), url1, n)
			ops["MoveFromTrash"] = b.MoveFromTrash(t.Context(), n, url1)
			ops["RemoveTrash"] = b.RemoveTrash(t.Context(), n)
			_, ops["TrashExists"] = b.TrashExists(t.Context(), n)
			ops["RenameTrash from"] = b.RenameTrash(t.Context(), n, "1-1-a.png")
			ops["RenameTrash to"] = b.RenameTrash(t.Context(), "1-1-a.png", n)
			for op, err := range ops {
				if !errors.Is(err, storage.ErrUnsafePath) {
					t.Errorf("%s(%q): got %v, want ErrUnsafePath", op, n, err)
				}
			}
		}
		if live, _ := Exists(t, b, url1, ""); !live {
			t.Error("a refused operation moved the live file")
		}
	})
}

func testStageRefusals(t *testing.T, h Harness) {
	t.Parallel()
	cases := []struct {
		name  string
		body  []byte
		limit int64
		want  error
	}{
		{"empty", nil, 1 << 20, storage.ErrEmpty},
		{"text", []byte("hola, no soy una imagen"), 1 << 20, storage.ErrNotImage},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), 1 << 20, storage.ErrNotImage},
		{"too large", pngBytes, 20, storage.ErrTooLarge},
	}
	forEach(t, h, func(t *testing.T, b Driver) {
		for _, tc := range cases {
			if st, err := b.Stage(t.Context(), bytes.NewReader(tc.body), tc.limit, allTypes); !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v %v, want %v", tc.name, st, err, tc.want)
			}
		}
		st, err := b.Stage(t.Context(), bytes.NewReader(pngBytes), 1<<20, allTypes)
		if err != nil {
			t.Fatal(err)
		}
		if st.ContentType != "image/png" || st.Ext != "png" || st.Size != int64(len(pngBytes)) || len(st.SHA256) != 64 {
			t.Errorf("staged %+v, want png of %d bytes with its sha256", st, len(pngBytes))
		}
		if err := b.Discard(t.Context(), st); err != nil {
			t.Errorf("discard: %v", err)
		}
		if left, err := b.CleanStaging(t.Context(), 0, time.Now().Add(time.Hour), false); len(left) != 0 || err != nil {
			t.Errorf("clean after discard: %v %v, want nothing left", left, err)
		}
	})
}

func testWalks(t *testing.T, h Harness) {
	t.Parallel()
	forEach(t, h, func(t *testing.T, b Driver) {
		products := []string{
			"/recursos/imagenes/productos/ab/abc.png",
			"/recursos/imagenes/productos/cd/x.JPG",
			"/recursos/imagenes/productos/legacy.webp",
			"/recursos/imagenes/productos/a/b/c/deep.gif",
		}
		for _, u := range products {
			b.PutRaw(t, u[1:], pngBytes)
		}
		for _, k := range []string{
			"recursos/css/site.css", "recursos/imagenes/logo.png",
			"recursos/imagenes/productos/dibujo.svg", "recursos/imagenes/productos/.oculto/a.png",
			".papelera/1-100-abc.png", ".papelera/2-100-x.png", ".imagenes-storage",
		} {
			b.PutRaw(t, k, pngBytes)
		}
		var live []string
		err := b.WalkLive(t.Context(), func(u string, d fs.DirEntry) error {
			fi, err := d.Info()
			if err != nil || fi.ModTime().IsZero() || time.Since(fi.ModTime()) > time.Hour {
				t.Errorf("%s: info %v %v, want a recent modification time", u, fi, err)
			}
			live = append(live, u)
			return nil
		})
		if err != nil {
			t.Fatalf("walk live: %v", err)
		}
		slices.Sort(live)
		slices.Sort(products)
		if !slices.Equal(live, products) {
			t.Errorf("walk live:\n got %q\nwant %q", live, products)
		}
		var trash []string
		if err := b.WalkTrash(t.Context(), func(n string, _ fs.FileInfo) error { trash = append(trash, n); return nil }); err != nil {
			t.Fatalf("walk trash: %v", err)
		}
		slices.Sort(trash)
		if want := []string{"1-100-abc.png", "2-100-x.png"}; !slices.Equal(trash, want) {
			t.Errorf("walk trash: got %q, want %q", trash, want)
		}
		n := 0
		if err := b.WalkLive(t.Context(), func(string, fs.DirEntry) error { n++; return fs.SkipAll }); err != nil || n != 1 {
			t.Errorf("stopped walk: %d calls, %v; want 1, nil", n, err)
		}
	})
}

// A call whose context has ended fails with the context's error and has no
// effect, on both backends: the folder checks ctx before each step that
// changes something, the bucket sends no request. (A step already under
// way is finished, not cut: see storage.Backend.)
func testEndedContext(t *testing.T, h Harness) {
	forEach(t, h, func(t *testing.T, b Driver) {
		const url2 = "/recursos/imagenes/productos/cd/cde.png"
		Upload(t, b, url1)
		Upload(t, b, url2)
		if moved, err := b.MoveToTrash(t.Context(), url2, "2-1-cde.png"); err != nil || !moved {
			t.Fatalf("move %s to trash: %v %v", url2, moved, err)
		}
		ended, cancel := context.WithCancel(t.Context())
		cancel()
		st, err := b.Stage(t.Context(), bytes.NewReader(pngBytes), 1<<20, allTypes)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Discard(t.Context(), st)
		const url3 = "/recursos/imagenes/productos/ef/efg.png"
		calls := []struct {
			name string
			call func() error
		}{
			{"MoveToTrash", func() error { _, err := b.MoveToTrash(ended, url1, "1-1-abc.png"); return err }},
			{"MoveFromTrash", func() error { return b.MoveFromTrash(ended, "2-1-cde.png", url2) }},
			{"RenameTrash", func() error { return b.RenameTrash(ended, "2-1-cde.png", "3-1-cde.png") }},
			{"RemoveTrash", func() error { return b.RemoveTrash(ended, "2-1-cde.png") }},
			{"RemoveLive", func() error { return b.RemoveLive(ended, url1) }},
			{"Publish", func() error { return b.Publish(ended, st, url3) }},
		}
		for _, c := range calls {
			if err := c.call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s on an ended context: got %v, want context.Canceled", c.name, err)
			}
		}
		if live, inTrash := Exists(t, b, url1, "1-1-abc.png"); !live || inTrash {
			t.Errorf("%s: live %v, in trash %v; want live and not in the trash", url1, live, inTrash)
		}
		if live, inTrash := Exists(t, b, url2, "2-1-cde.png"); live || !inTrash {
			t.Errorf("%s: live %v, in trash %v; want in the trash only", url2, live, inTrash)
		}
		if _, inTrash := Exists(t, b, "", "3-1-cde.png"); inTrash {
			t.Errorf("3-1-cde.png in the trash: the rename happened")
		}
		if live, _ := Exists(t, b, url3, ""); live {
			t.Errorf("%s published", url3)
		}
	})
}

// Capabilities say what differs between the drivers, and each driver does
// what its value says: a copy-move driver tells a cut move's two copies
// apart by SameObject (a folder, whose renames never leave two, says no
// even to identical bytes); a driver without signed urls refuses Presign
// with errors.ErrUnsupported; a thumbnail cache writes and opens.
func testCapabilities(t *testing.T, h Harness) {
	t.Parallel()
	{
		{
			b := h.Make(t)
			c := b.Capabilities()
			if c != h.Capabilities {
				t.Errorf("Capabilities() = %+v, want %+v", c, h.Capabilities)
			}
			Upload(t, b, url1)
			const name1 = "1-1-abc.png"
			b.PutRaw(t, ".papelera/"+name1, pngBytes) // the copy a cut move leaves
			same, err := b.SameObject(t.Context(), name1, url1)
			if err != nil || same != c.CopyMoves {
				t.Errorf("SameObject of identical copies: %v, %v; want %v (CopyMoves)", same, err, c.CopyMoves)
			}
			u, err := b.Presign(t.Context(), url1, time.Minute)
			switch {
			case c.Presign && (err != nil || u == ""):
				t.Errorf("Presign: %q, %v; want a url", u, err)
			case !c.Presign && !errors.Is(err, errors.ErrUnsupported):
				t.Errorf("Presign without the capability: %q, %v; want errors.ErrUnsupported", u, err)
			}
			if c.Thumbnails {
				if err := b.WriteThumb(t.Context(), url1, 64, "png", []byte("thumb")); err != nil {
					t.Fatalf("WriteThumb: %v", err)
				}
				f, err := b.OpenThumb(t.Context(), url1, 64, "png")
				if err != nil {
					t.Fatalf("OpenThumb: %v", err)
				}
				f.Close()
			}
		}
	}
}
