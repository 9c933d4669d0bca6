package objstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
)

// A storage folder with one file of every kind a mirror meets.
var mirrorFolder = map[string]string{
	".imagenes-storage":                              "marker",
	"recursos/imagenes/productos/ab/x.png":           "live image",
	"recursos/css/site.css":                          "a site file imagenes serves too",
	".papelera/1-1700000000-x.png":                   "trashed image",
	".miniaturas/64/imagenes/productos/ab/x.png.png": "thumbnail of a live image",
	".miniaturas/64/imagenes/productos/zz/y.png.png": "thumbnail of no live image",
	".tmp/0123.part":                                 "a staged upload a crash left",
	"index.html":                                     "not imagenes' (Balsamoa's public/)",
	"recursos/.oculto/z.png":                         "a hidden segment: no url reaches it",
}

// What reaches the bucket of it (the symlink never does).
var mirrored = []string{
	".imagenes-storage",
	".miniaturas/64/imagenes/productos/ab/x.png.png",
	".papelera/1-1700000000-x.png",
	"recursos/css/site.css",
	"recursos/imagenes/productos/ab/x.png",
}

func makeFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range files {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The mirror of a folder into a bucket: what is copied, what is left
// behind and why, what a second run does, --delete and --dry-run, and the
// refusal of a folder without the marker; with and without a key prefix.
func TestMirrorFrom(t *testing.T) {
	t.Parallel()
	type counts struct{ Copied, Unchanged, Removed, Staging, StaleThumbs, Other, Unsafe int }
	cases := []struct {
		name    string
		files   map[string]string // the folder; nil: mirrorFolder
		before  []string          // objects already in the bucket (content "old")
		twice   bool              // mirror once first (same options, no dry run)
		opts    objstore.MirrorOptions
		want    counts
		keys    []string // the bucket's keys after
		wantErr string
	}{
		{name: "first run", want: counts{Copied: 5, Staging: 1, StaleThumbs: 1, Other: 1, Unsafe: 2}, keys: mirrored},
		{name: "second run copies nothing", twice: true, want: counts{Unchanged: 5, Staging: 1, StaleThumbs: 1, Other: 1, Unsafe: 2}, keys: mirrored},
		{name: "a different object under a key is replaced", before: []string{"recursos/imagenes/productos/ab/x.png"},
			want: counts{Copied: 5, Staging: 1, StaleThumbs: 1, Other: 1, Unsafe: 2}, keys: mirrored},
		{name: "without --delete the bucket's extras stay", before: []string{"recursos/imagenes/productos/ab/viejo.png", ".tmp/9.part"},
			want: counts{Copied: 5, Staging: 1, StaleThumbs: 1, Other: 1, Unsafe: 2},
			keys: append([]string{".tmp/9.part", "recursos/imagenes/productos/ab/viejo.png"}, mirrored...)},
		{name: "--delete removes what the folder lacks or leaves behind",
			before: []string{"recursos/imagenes/productos/ab/viejo.png", ".tmp/9.part", ".papelera/2-1700000000-y.png", ".miniaturas/64/imagenes/productos/zz/y.png.png", "otra/cosa.txt"},
			opts:   objstore.MirrorOptions{Delete: true},
			want:   counts{Copied: 5, Removed: 4, Staging: 1, StaleThumbs: 1, Other: 1, Unsafe: 2},
			keys:   append([]string{"otra/cosa.txt"}, mirrored...)}, // outside the areas a mirror writes
		{name: "--dry-run changes nothing", before: []string{"recursos/imagenes/productos/ab/viejo.png"},
			opts: objstore.MirrorOptions{Delete: true, DryRun: true},
			want: counts{Copied: 5, Removed: 1, Staging: 1, StaleThumbs: 1, Other: 1, Unsafe: 2},
			keys: []string{"recursos/imagenes/productos/ab/viejo.png"}},
		{name: "a folder without the marker is refused", files: map[string]string{"recursos/imagenes/productos/ab/x.png": "x"},
			wantErr: "not a storage folder"},
	}
	for _, prefix := range []string{"", "tienda/imagenes"} {
		for _, tc := range cases {
			t.Run(tc.name+" "+prefix, func(t *testing.T) {
				t.Parallel()
				files := tc.files
				if files == nil {
					files = mirrorFolder
				}
				dir := makeFolder(t, files)
				if tc.files == nil {
					// A symlink is never followed, even to a file inside.
					if err := os.Symlink("x.png", filepath.Join(dir, "recursos/imagenes/productos/ab/enlace.png")); err != nil {
						t.Fatal(err)
					}
				}
				s := s3test.New(t, prefix)
				p := prefix
				if p != "" {
					p += "/"
				}
				for _, k := range tc.before {
					if _, err := s.Client().PutObject(context.Background(), s.Bucket(), p+k, strings.NewReader("old"), 3, minio.PutObjectOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				var notes []string
				note := func(what, key string) { notes = append(notes, what+": "+key) }
				if tc.twice {
					if _, err := s.MirrorFrom(t.Context(), dir, tc.opts, note); err != nil {
						t.Fatal(err)
					}
				}
				rep, err := s.MirrorFrom(t.Context(), dir, tc.opts, note)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Errorf("got %v, want an error about %q", err, tc.wantErr)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				got := counts{rep.Copied, rep.Unchanged, rep.Removed, rep.Staging, rep.StaleThumbs, rep.Other, rep.Unsafe}
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("report (-want +got):\n%s\nnotes: %s", d, strings.Join(notes, "\n"))
				}
				var keys []string
				for oi := range s.Client().ListObjectsIter(context.Background(), s.Bucket(), minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
					if oi.Err != nil {
						t.Fatal(oi.Err)
					}
					keys = append(keys, strings.TrimPrefix(oi.Key, p))
					if want, ok := files[strings.TrimPrefix(oi.Key, p)]; ok && !tc.opts.DryRun {
						checkBytes(t, s, oi.Key, want)
					}
				}
				want := append([]string(nil), tc.keys...)
				sort.Strings(want)
				sort.Strings(keys)
				if d := cmp.Diff(want, keys); d != "" {
					t.Errorf("bucket keys (-want +got):\n%s", d)
				}
			})
		}
	}
}

func checkBytes(t *testing.T, s *objstore.Store, key, want string) {
	t.Helper()
	o, err := s.Client().GetObject(context.Background(), s.Bucket(), key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(o); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("%s holds %q, want the folder's %q", key, b.String(), want)
	}
}
