package storage

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// A folder replaced under a running storage — .papelera renamed away and
// made anew, or a live folder swapped for another — is the folder used from
// then on: a delete's file lands in the new trash folder and the group fsync
// syncs that one (seen by the inode of the descriptor it syncs). Before,
// the cached descriptor followed the old folder, and every later delete
// renamed its file into it, out of the new folder's sight.
func TestReplacedFolderIsFollowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		replace func(t *testing.T, root string)
	}{
		{name: "trash renamed away and made anew", replace: func(t *testing.T, root string) {
			rename(t, filepath.Join(root, trashDir), filepath.Join(root, "papelera-old"))
			if err := os.Mkdir(filepath.Join(root, trashDir), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "trash replaced by another folder moved in", replace: func(t *testing.T, root string) {
			if err := os.Mkdir(filepath.Join(root, "papelera-new"), 0o755); err != nil {
				t.Fatal(err)
			}
			rename(t, filepath.Join(root, trashDir), filepath.Join(root, "papelera-old"))
			rename(t, filepath.Join(root, "papelera-new"), filepath.Join(root, trashDir))
		}},
		{name: "live folder and trash both replaced", replace: func(t *testing.T, root string) {
			live := filepath.Join(root, "recursos/imagenes/productos/ab")
			rename(t, live, live+"-old")
			rename(t, filepath.Join(root, trashDir), filepath.Join(root, "papelera-old"))
			if err := os.Mkdir(filepath.Join(root, trashDir), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, root := open(t)
			// The inodes of the folders the group fsync syncs, by name.
			var mu sync.Mutex
			synced := map[string][]uint64{}
			open := s.sync.open
			s.sync.open = func(name string) (*os.File, func(), error) {
				d, release, err := open(name)
				if err == nil {
					var st syscall.Stat_t
					if err := syscall.Fstat(int(d.Fd()), &st); err == nil {
						mu.Lock()
						synced[name] = append(synced[name], st.Ino)
						mu.Unlock()
					}
				}
				return d, release, err
			}
			put(t, root, "/recursos/imagenes/productos/ab/first.png", []byte("first"))
			if moved, err := s.MoveToTrash(t.Context(), "/recursos/imagenes/productos/ab/first.png", "1-1-first.png"); !moved || err != nil {
				t.Fatalf("first move: %v %v", moved, err)
			}
			tc.replace(t, root)
			put(t, root, "/recursos/imagenes/productos/ab/second.png", []byte("second"))
			if moved, err := s.MoveToTrash(t.Context(), "/recursos/imagenes/productos/ab/second.png", "2-1-second.png"); !moved || err != nil {
				t.Fatalf("move after the replacement: %v %v", moved, err)
			}
			if err := s.Close(); err != nil { // the last group fsync
				t.Fatal(err)
			}
			if _, err := os.Lstat(filepath.Join(root, trashDir, "2-1-second.png")); err != nil {
				t.Errorf("the file moved after the replacement is not in the trash folder: %v (old folder holds %v)",
					err, listDir(t, filepath.Join(root, "papelera-old")))
			}
			if _, err := os.Lstat(filepath.Join(root, "recursos/imagenes/productos/ab/second.png")); err == nil {
				t.Errorf("the file is still live")
			}
			fi, err := os.Stat(filepath.Join(root, trashDir))
			if err != nil {
				t.Fatal(err)
			}
			want := fi.Sys().(*syscall.Stat_t).Ino
			mu.Lock()
			got := synced[trashDir]
			mu.Unlock()
			if len(got) == 0 || got[len(got)-1] != want {
				t.Errorf("the group fsync synced trash folders %v, want the last to be the current one (inode %d)", got, want)
			}
		})
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}
