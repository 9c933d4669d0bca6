package objstore_test

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

// The S3 requests each kind of move sends, counted on their way to the
// real MinIO (a logging http.RoundTripper around the real transport): a
// move is three requests — the HEAD that guards the target against an
// overwrite, the server-side copy, the delete — with no HEAD of the source
// and no check of the bucket (the copy's error body tells a missing source
// and a missing bucket apart), and the answers stay those of the
// conformance suite.
func TestMoveRequests(t *testing.T) {
	t.Parallel()
	const (
		live  = "recursos/imagenes/productos/ab/abc.png"
		trash = ".papelera/1-100-abc.png"
	)
	type setup struct{ live, trash []byte } // objects there before the move; nil: none
	toTrash := func(s *objstore.Store) error {
		moved, err := s.MoveToTrash(t.Context(), url1, "1-100-abc.png")
		if err == nil && !moved {
			return errNotMoved
		}
		return err
	}
	fromTrash := func(s *objstore.Store) error { return s.MoveFromTrash(t.Context(), "1-100-abc.png", url1) }
	cases := []struct {
		name      string
		setup     setup
		missing   bool // the store's bucket does not exist
		awsHeads  bool // answers without MinIO's x-minio-error-* headers, as AWS S3 sends them
		move      func(*objstore.Store) error
		want      error
		requests  []string
		wantLive  bool
		wantTrash bool
	}{
		{name: "to the trash", setup: setup{live: pngBytes}, move: toTrash,
			requests: []string{"HEAD " + trash, "COPY " + trash, "DELETE " + live}, wantTrash: true},
		{name: "back from the trash", setup: setup{trash: pngBytes}, move: fromTrash,
			requests: []string{"HEAD " + live, "COPY " + live, "DELETE " + trash}, wantLive: true},
		{name: "a live object already gone", move: toTrash, want: errNotMoved,
			requests: []string{"HEAD " + trash, "COPY " + trash}},
		{name: "a trash object already gone", move: fromTrash, want: storage.ErrNotExist,
			requests: []string{"HEAD " + live, "COPY " + live}},
		{name: "finishing a move cut between its copy and its delete", setup: setup{live: pngBytes, trash: pngBytes}, move: toTrash,
			requests: []string{"HEAD " + trash, "HEAD " + live, "DELETE " + live}, wantTrash: true},
		{name: "a different object at the trash name", setup: setup{live: pngBytes, trash: []byte("otra")}, move: toTrash, want: fs.ErrExist,
			requests: []string{"HEAD " + trash, "HEAD " + live}, wantLive: true, wantTrash: true},
		{name: "the trash name taken, the live object gone", setup: setup{trash: []byte("otra")}, move: toTrash, want: errNotMoved,
			requests: []string{"HEAD " + trash, "HEAD " + live}, wantTrash: true},
		{name: "a missing bucket, as MinIO answers a HEAD", missing: true, move: toTrash, want: storage.ErrUnavailable,
			requests: []string{"HEAD " + trash}},
		{name: "a missing bucket, as AWS S3 answers a HEAD (404, nothing else)", missing: true, awsHeads: true, move: toTrash,
			want: storage.ErrUnavailable, requests: []string{"HEAD " + trash, "COPY " + trash}},
		{name: "a missing bucket, restoring, as AWS S3 answers", missing: true, awsHeads: true, move: fromTrash,
			want: storage.ErrUnavailable, requests: []string{"HEAD " + live, "COPY " + live}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := s3test.Server(t)
			o.Bucket = "imagenes-no-existe"
			if !tc.missing {
				o = s3test.Bucket(t)
			}
			s, reqs, err := objstore.NewRecorded(o, tc.awsHeads)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			b := s3backendOf(s, "")
			if tc.setup.live != nil {
				b.putRaw(t, live, tc.setup.live)
			}
			if tc.setup.trash != nil {
				b.putRaw(t, trash, tc.setup.trash)
			}
			reqs.Take() // the setup's
			if err := tc.move(s); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if d := cmp.Diff(tc.requests, reqs.Take()); d != "" {
				t.Errorf("requests (-want +got):\n%s", d)
			}
			if tc.missing {
				return
			}
			if gotLive, gotTrash := storagetest.Exists(t, b, url1, "1-100-abc.png"); gotLive != tc.wantLive || gotTrash != tc.wantTrash {
				t.Errorf("after: live %v trash %v, want %v %v", gotLive, gotTrash, tc.wantLive, tc.wantTrash)
			}
		})
	}
}

// errNotMoved: MoveToTrash found no live object (false, nil).
var errNotMoved = errors.New("not moved: no live object")
