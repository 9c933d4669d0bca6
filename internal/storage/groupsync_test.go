package storage

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The group fsync of the trash folder after moves into it: with the folder
// cache full the move's own descriptor is closed when it returns, and the
// tick must still sync the folder (not fail on, nor silently skip, the
// closed descriptor); a failed fsync is reported by SyncErrors and Close.
func TestGroupSync(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		cacheMax  int32  // folders the cache keeps open (0: full from the start)
		markAlso  string // a folder queued besides the moves'
		wantError string // in Close's error; "" = Close returns nil
	}{
		{name: "cached folders", cacheMax: maxCachedDirs},
		{name: "folder cache full", cacheMax: 0},
		{name: "fsync fails", cacheMax: maxCachedDirs, markAlso: "no-such-folder", wantError: "no-such-folder"},
		{name: "fsync fails with the cache full", cacheMax: 0, markAlso: "no-such-folder", wantError: "no-such-folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, root := open(t)
			s.dirs.max = tc.cacheMax
			var reported atomic.Uint64
			s.OnSyncError(func(error) { reported.Add(1) })
			for i, name := range []string{"a", "b", "c"} {
				url := "/recursos/imagenes/productos/" + name + ".png"
				put(t, root, url, []byte(name))
				if moved, err := s.MoveToTrash(t.Context(), url, strings.Repeat("1", i+1)+"-1-"+name+".png"); !moved || err != nil {
					t.Fatalf("move %s: got %v %v, want moved", url, moved, err)
				}
			}
			if tc.markAlso != "" {
				s.sync.mark(tc.markAlso)
			}
			err := s.Close()
			n, last := s.SyncErrors()
			if tc.wantError == "" {
				if err != nil || n != 0 || last != nil {
					t.Errorf("got Close %v, SyncErrors %d %v; want no failure", err, n, last)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Errorf("got Close %v, want the failed fsync of %s", err, tc.wantError)
				}
				if n == 0 || last == nil || !strings.Contains(last.Error(), tc.wantError) {
					t.Errorf("got SyncErrors %d %v, want the failure counted", n, last)
				}
				if got := reported.Load(); got != n {
					t.Errorf("got %d failures reported to OnSyncError, want %d", got, n)
				}
			}
			if again := s.Close(); (again == nil) != (err == nil) {
				t.Errorf("got %v closing twice, want the first Close's %v", again, err)
			}
		})
	}
}

// Close is safe twice and concurrently, on a Storage that never moved a
// file (no group sync loop) and on one that did.
func TestCloseTwice(t *testing.T) {
	t.Parallel()
	for _, moved := range []bool{false, true} {
		s, root := open(t)
		if moved {
			put(t, root, "/recursos/x.png", []byte("x"))
			if _, err := s.MoveToTrash(t.Context(), "/recursos/x.png", "1-1-x.png"); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = s.Close() })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("moved=%v: Close %d got %v, want nil", moved, i, err)
			}
		}
	}
}
