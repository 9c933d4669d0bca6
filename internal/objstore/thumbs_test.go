package objstore_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
	"github.com/imagenes/imagenes/internal/thumbs"
)

// thumbCache is what the thumbnail routes and the janitor's sweep use of a
// backend, beyond storage.Backend.
type thumbCache interface {
	thumbs.Files
	WalkThumbs(ctx context.Context, fn func(key string) error) error
	RemoveThumb(ctx context.Context, key string) error
}

// TestThumbCache: the thumbnail cache and the trash preview behave alike on
// the folder and on the bucket: write, open, walk (keys that name their
// original), remove, refuse unsafe keys; a trashed file opens from the
// trash.
func TestThumbCache(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		tc, ok := b.Backend.(thumbCache)
		if !ok {
			t.Fatalf("%T keeps no thumbnail cache", b.Backend)
		}
		if _, err := tc.OpenThumb(t.Context(), url1, 64, "png"); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("missing thumbnail: got %v, want ErrNotExist", err)
		}
		for _, w := range []int{64, 256} {
			if err := tc.WriteThumb(t.Context(), url1, w, "png", []byte("thumb-"+string(rune('0'+w/64)))); err != nil {
				t.Fatalf("write thumbnail %d: %v", w, err)
			}
		}
		f, err := tc.OpenThumb(t.Context(), url1, 256, "png")
		if err != nil {
			t.Fatalf("open thumbnail: %v", err)
		}
		data, _ := io.ReadAll(f)
		info, _ := f.Stat()
		f.Close()
		if string(data) != "thumb-4" || info.Size() != 7 {
			t.Errorf("got %q (%d bytes), want thumb-4", data, info.Size())
		}
		var keys []string
		if err := tc.WalkThumbs(t.Context(), func(key string) error { keys = append(keys, key); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		want := []string{"256/imagenes/productos/ab/abc.png.png", "64/imagenes/productos/ab/abc.png.png"}
		if !slices.Equal(keys, want) {
			t.Fatalf("walk: got %q, want %q", keys, want)
		}
		for _, k := range keys {
			if u, ok := storage.ThumbOriginal(k); !ok || u != url1 {
				t.Errorf("original of %s: got %q %v, want %s", k, u, ok, url1)
			}
		}
		for _, bad := range []string{"../x", "/etc/passwd", "64/../../.papelera/x", "a\\b", ""} {
			if err := tc.RemoveThumb(t.Context(), bad); !errors.Is(err, storage.ErrUnsafePath) {
				t.Errorf("remove %q: got %v, want ErrUnsafePath", bad, err)
			}
		}
		if err := tc.RemoveThumb(t.Context(), keys[0]); err != nil {
			t.Fatal(err)
		}
		if err := tc.RemoveThumb(t.Context(), keys[0]); err != nil {
			t.Errorf("removing a missing thumbnail: %v", err)
		}
		if _, err := tc.OpenThumb(t.Context(), url1, 256, "png"); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("after remove: got %v, want ErrNotExist", err)
		}

		storagetest.Upload(t, b, url1)
		const name = "7-1700000000-abc.png"
		if _, err := b.MoveToTrash(t.Context(), url1, name); err != nil {
			t.Fatal(err)
		}
		f, err = tc.OpenTrash(t.Context(), name)
		if err != nil {
			t.Fatalf("open trash: %v", err)
		}
		data, _ = io.ReadAll(f)
		f.Close()
		if string(data) != string(pngBytes) {
			t.Errorf("trash file: got %d bytes, want the upload's %d", len(data), len(pngBytes))
		}
		if _, err := tc.OpenTrash(t.Context(), "../x"); !errors.Is(err, storage.ErrUnsafePath) {
			t.Errorf("open trash ../x: got %v, want ErrUnsafePath", err)
		}
	})
}
