package storage

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestWalkLiveEntries: the getdents walk sees what os.ReadDir sees — odd
// names, folders deeper than the fan-out, folders bigger than one read
// buffer — skips symlinks and hidden folders, and each entry's Info is an
// lstat of that very file made when asked, even after the walk returned.
func TestWalkLiveEntries(t *testing.T) {
	t.Parallel()
	const prod = "/recursos/imagenes/productos/"
	many := make([]string, 0, 1500)
	for i := range 1500 { // 1500 long names: several 32 KiB getdents reads
		many = append(many, fmt.Sprintf("%sab/%s-%04d.png", prod, strings.Repeat("n", 60), i))
	}
	tests := []struct {
		name  string
		files []string               // regular files to create (url → content = url)
		links map[string]string      // symlink url → target (absolute or relative)
		dirs  []string               // empty folders
		want  []string               // urls WalkLive must report, any order
		after func(root string)      // run after the walk, before Info is asked
		info  map[string]fs.FileMode // url → the type Info must report (after `after`)
	}{
		{
			name: "odd names",
			files: []string{
				prod + "00/espacio en medio.png", prod + "00/ñandú-ü.JPG", prod + "00/100%25.webp",
				prod + "00/%2e%2e.gif", prod + "00/-guion.png", prod + "00/a'b\"c.png",
			},
			want: []string{
				prod + "00/espacio en medio.png", prod + "00/ñandú-ü.JPG", prod + "00/100%25.webp",
				prod + "00/%2e%2e.gif", prod + "00/-guion.png", prod + "00/a'b\"c.png",
			},
		},
		{
			name:  "refused and foreign names are skipped",
			files: []string{prod + "00/tab\there.png", prod + "00/notes.txt", prod + "00/ok.png"},
			want:  []string{prod + "00/ok.png"},
		},
		{
			name:  "nested and legacy folders, hidden folders skipped",
			files: []string{prod + "legacy.jpg", prod + "a/b/c/deep.png", prod + ".oculto/x.png"},
			dirs:  []string{prod + "vacio"},
			want:  []string{prod + "legacy.jpg", prod + "a/b/c/deep.png"},
		},
		{
			name:  "symlinks to files, folders and outside are skipped",
			files: []string{prod + "00/real.png"},
			links: map[string]string{
				prod + "00/link.png":     "real.png",
				prod + "dirlink":         "00",
				prod + "00/fuera.png":    "/etc/hostname",
				prod + "afuera":          "/etc",
				prod + "00/colgante.png": "no-existe.png",
			},
			want: []string{prod + "00/real.png"},
		},
		{
			name:  "a folder bigger than one read",
			files: many,
			want:  many,
		},
		{
			name:  "Info after the walk is an lstat of that file then, never following a symlink",
			files: []string{prod + "00/swap.png", prod + "00/keep.png", prod + "00/gone.png", "/fuera.png"},
			want:  []string{prod + "00/swap.png", prod + "00/keep.png", prod + "00/gone.png"},
			after: func(root string) {
				live := filepath.Join(root, "recursos/imagenes/productos/00")
				must(t, os.Remove(filepath.Join(live, "swap.png")))
				must(t, os.Symlink(filepath.Join(root, "fuera.png"), filepath.Join(live, "swap.png")))
				must(t, os.Remove(filepath.Join(live, "gone.png")))
			},
			info: map[string]fs.FileMode{
				prod + "00/swap.png": fs.ModeSymlink,
				prod + "00/keep.png": 0,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, root := open(t)
			for _, u := range tc.files {
				put(t, root, u, []byte(u))
			}
			for _, u := range tc.dirs {
				must(t, os.MkdirAll(filepath.Join(root, filepath.FromSlash(u)), 0o755))
			}
			for u, target := range tc.links {
				p := filepath.Join(root, filepath.FromSlash(u))
				must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				must(t, os.Symlink(target, p))
			}
			ents := map[string]fs.DirEntry{}
			var got []string
			if err := s.WalkLive(t.Context(), func(u string, d fs.DirEntry) error {
				got, ents[u] = append(got, u), d
				if !d.Type().IsRegular() || d.IsDir() || u[strings.LastIndexByte(u, '/')+1:] != d.Name() {
					t.Errorf("%s: entry %v, want a regular file named as the url ends", u, d)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := append([]string(nil), tc.want...)
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("WalkLive got %d urls %q, want %d %q", len(got), got, len(want), want)
			}
			if tc.after != nil {
				tc.after(root)
			}
			for u, d := range ents {
				info, err := d.Info()
				mode, checked := tc.info[u]
				switch {
				case strings.HasSuffix(u, "/gone.png"):
					if err == nil {
						t.Errorf("%s: Info of a removed file got %v, want an error", u, info)
					}
				case err != nil:
					t.Errorf("%s: Info: %v", u, err)
				case checked && info.Mode().Type() != mode:
					t.Errorf("%s: Info type %v, want %v", u, info.Mode().Type(), mode)
				case !checked || mode == 0:
					if info.Size() != int64(len(u)) || info.Name() != d.Name() || time.Since(info.ModTime()) > time.Hour {
						t.Errorf("%s: Info %q size %d mtime %v, want %q size %d, just written",
							u, info.Name(), info.Size(), info.ModTime(), d.Name(), len(u))
					}
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWalkLiveOrder: the live walk reports urls in byte order (what the
// janitor merges with `ORDER BY url COLLATE "C"`), a folder's files where
// its name and a '/' sort among its neighbours; a folder bigger than the
// sort bound still reports every file, in no promised order.
func TestWalkLiveOrder(t *testing.T) {
	t.Parallel()
	const prod = "/recursos/imagenes/productos/"
	files := []string{
		prod + "legacy.jpg", prod + "a.png", prod + "a-b.png", prod + "a0.png", prod + "a/x.png", prod + "a/.oculto.png",
		prod + "ab/c/d.png", prod + "ab/c.png", prod + "ab.png", prod + "0.png", prod + "00/z.png", prod + "00/a.png",
		prod + "00/A.PNG", prod + "ff/ñ.webp", prod + "ff/n.webp", prod + "f/f.gif",
	}
	var want []string
	for _, u := range files {
		if !strings.Contains(u, "/.") {
			want = append(want, u)
		}
	}
	sort.Strings(want)
	tests := []struct {
		name      string
		sortedMax int  // 0: the default bound
		ordered   bool // the urls come in byte order
	}{
		{name: "every folder sorted", ordered: true},
		{name: "folders bigger than the bound come unsorted, all of them", sortedMax: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, root := open(t)
			if tc.sortedMax > 0 {
				s.sortedMax = tc.sortedMax
			}
			for _, u := range files {
				put(t, root, u, []byte(u))
			}
			var got []string
			if err := s.WalkLive(t.Context(), func(u string, d fs.DirEntry) error {
				got = append(got, u)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if tc.ordered {
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("WalkLive got\n%s\nwant, in byte order,\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				return
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("WalkLive got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
