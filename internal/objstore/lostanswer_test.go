package objstore_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

// A move whose delete of the source fails may still have deleted it: the
// answer can be lost after the store carried the request out (a reset
// connection), or the store can hold the request past the time limit and
// carry it out later. So the copy is never removed after a failed delete:
// the error leaves both keys, or the copy alone, and the janitor settles
// them by the row, its lock and the entry. Before, the move removed the
// copy, and the source's delete landing anyway left the object under
// neither key ("bucket holds []"). Played through a real proxy in front of
// the test MinIO, which faults the one DELETE of the source.
func TestMoveWhoseDeleteFails(t *testing.T) {
	t.Parallel()
	const (
		live  = "recursos/imagenes/productos/ab/abc.png"
		trash = ".papelera/1-100-abc.png"
	)
	toTrash := func(s *objstore.Store) error { _, err := s.MoveToTrash(t.Context(), url1, "1-100-abc.png"); return err }
	fromTrash := func(s *objstore.Store) error { return s.MoveFromTrash(t.Context(), "1-100-abc.png", url1) }
	cases := []struct {
		name     string
		setup    string // the key holding the object before the move
		src, dst string // the move's keys
		move     func(*objstore.Store) error
		fault    s3test.Fault
	}{
		{"to the trash, the delete's answer lost", live, live, trash, toTrash, s3test.LoseAnswer},
		{"to the trash, the delete held past the time limit and carried out later", live, live, trash, toTrash, s3test.Hold},
		{"back from the trash, the delete's answer lost", trash, trash, live, fromTrash, s3test.LoseAnswer},
		{"back from the trash, the delete held and carried out later", trash, trash, live, fromTrash, s3test.Hold},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := s3test.Bucket(t)
			direct, err := objstore.New(o)
			if err != nil {
				t.Fatal(err)
			}
			defer direct.Close()
			b := s3backendOf(direct, "")
			b.putRaw(t, tc.setup, pngBytes)

			p := s3test.NewProxy(t, o.Endpoint)
			po := o
			po.Endpoint = p.Endpoint()
			po.Timeout = time.Second // what the held delete outlasts
			s, err := objstore.New(po)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p.On(http.MethodDelete, "/"+tc.src, tc.fault)
			err = tc.move(s)
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("move: got %v, want an error wrapping storage.ErrUnavailable", err)
			}
			if p.Faults() != 1 {
				t.Fatalf("the proxy faulted %d requests, want the delete of %s", p.Faults(), tc.src)
			}
			if tc.fault == s3test.Hold {
				p.Release()
			}
			p.WaitLanded(t) // the store carried the delete out
			srcThere, dstThere := keyExists(t, b, tc.src), keyExists(t, b, tc.dst)
			if srcThere || !dstThere {
				t.Errorf("after the move and its delete: %s %v, %s %v; want the object at %s (the copy kept)",
					tc.src, srcThere, tc.dst, dstThere, tc.dst)
			}
		})
	}
}

// keyExists reports whether the bucket holds key (live or trash).
func keyExists(t *testing.T, b backend, key string) bool {
	t.Helper()
	if name, ok := strings.CutPrefix(key, ".papelera/"); ok {
		_, in := storagetest.Exists(t, b, "", name)
		return in
	}
	live, _ := storagetest.Exists(t, b, "/"+key, "")
	return live
}
