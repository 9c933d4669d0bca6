package janitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

// On an object store a move is a copy then a delete; a crash between the
// two leaves the object under both keys. Each state is settled by the row,
// its lock and the entry — exactly, in one pass, with nothing adopted twice
// and nothing lost — and a second pass finds nothing to do.
func TestInterruptedMovesOnS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		// setup leaves the crash's state and returns the check after a pass.
		setup func(f *fixture) func(t *testing.T)
		cfg   func(c *janitor.Config) // nil: cfg()
		want  counts
		again counts // the second pass
	}{
		{name: "delete cut after its copy: the row keeps its file", setup: func(f *fixture) func(*testing.T) {
			id, url := f.image(false)
			name := storage.TrashName(f.lostEntryID(), time.Now(), url)
			f.kit.Copy(f.t, key(url), trashKey(name))
			return func(t *testing.T) {
				if !f.isLive(url) || f.kit.Exists(t, trashKey(name)) {
					t.Errorf("image %d: live %v, trash copy %v; want live only", id, f.isLive(url), f.kit.Exists(t, trashKey(name)))
				}
			}
		}, want: counts{recovered: 1}},
		{name: "delete cut after its copy, the copy younger than the grace: left for a later pass", setup: func(f *fixture) func(*testing.T) {
			// The dead delete's delete of the live object may still reach
			// the storage: settled now, the object would be gone from both.
			id, url := f.image(false)
			name := storage.TrashName(f.lostEntryID(), time.Now(), url)
			f.kit.Copy(f.t, key(url), trashKey(name))
			return func(t *testing.T) {
				if !f.isLive(url) || !f.kit.Exists(t, trashKey(name)) {
					t.Errorf("image %d: live %v, trash copy %v; want both left", id, f.isLive(url), f.kit.Exists(t, trashKey(name)))
				}
			}
		}, cfg: func(c *janitor.Config) { c.OrphanGrace = 3 * time.Hour }, // the pass's clock runs 2h ahead (Kit.Skew)
			want: counts{inFlight: 1}, again: counts{inFlight: 1}},
		{name: "long name: delete cut after its copy: the row keeps its file", setup: func(f *fixture) func(*testing.T) {
			id, url := f.imageAt(longURL("1"), false)
			f.imageAt(longURL("2"), false)
			name := storage.TrashName(f.lostEntryID(), time.Now(), url)
			f.kit.Copy(f.t, key(url), trashKey(name))
			return func(t *testing.T) {
				if !f.isLive(url) || f.kit.Exists(t, trashKey(name)) {
					t.Errorf("image %d: live %v, trash copy %v; want live only", id, f.isLive(url), f.kit.Exists(t, trashKey(name)))
				}
			}
		}, want: counts{recovered: 1}},
		{name: "restore cut after its copy: the entry keeps its file", setup: func(f *fixture) func(*testing.T) {
			e, url := f.trashed()
			name := storage.TrashName(e.ID, e.EliminadoEn, url)
			f.kit.Copy(f.t, trashKey(name), key(url))
			return func(t *testing.T) {
				if f.isLive(url) || !f.kit.Exists(t, trashKey(name)) {
					t.Errorf("entry %d: live %v, in trash %v; want the trash only", e.ID, f.isLive(url), f.kit.Exists(t, trashKey(name)))
				}
				if n := f.count(`SELECT count(*) FROM imagenes_papelera WHERE url = $1`, url); n != 1 {
					t.Errorf("%d entries for %s, want 1 (no orphan entry)", n, url)
				}
				if _, err := f.cat.Restore(context.Background(), e.ID); err != nil || !f.isLive(url) {
					t.Errorf("restore afterwards: %v, live %v", err, f.isLive(url))
				}
			}
		}, want: counts{recovered: 1}},
		{name: "rejoin cut after its copy: one entry holds the file", setup: func(f *fixture) func(*testing.T) {
			id, url := f.image(false)
			stray := storage.TrashName(f.lostEntryID(), time.Now(), url)
			f.kit.Move(f.t, key(url), trashKey(stray)) // an aborted delete's move
			e, err := f.cat.DeleteImagen(ctx, id, repo.All, "test")
			if err != nil || !e.SinArchivo {
				f.t.Fatalf("later delete: %+v %v, want sin_archivo", e, err)
			}
			// The pass that gave the stray file to e crashed between the
			// copy and the delete, before its commit.
			name := storage.TrashName(e.ID, e.EliminadoEn, url)
			f.kit.Copy(f.t, trashKey(stray), trashKey(name))
			return func(t *testing.T) {
				if got := f.trashFiles(); len(got) != 1 || got[0] != name {
					t.Errorf("trash %v, want only %s", got, name)
				}
				if _, err := f.cat.Restore(context.Background(), e.ID); err != nil || !f.isLive(url) {
					t.Errorf("restore: %v, live %v", err, f.isLive(url))
				}
			}
		}, want: counts{recovered: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixtureOn(t, storagetest.S3)
			f.image(false) // the janitor refuses an empty table
			check := tc.setup(f)
			// A dry run tells the same story and moves nothing.
			before := f.state()
			c := cfg()
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			dc := c
			dc.DryRun = true
			dry, err := f.j.Run(ctx, dc)
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if got := countsOf(dry); got != tc.want {
				t.Errorf("dry run: got %+v, want %+v", got, tc.want)
			}
			if after := f.state(); after != before {
				t.Errorf("the dry run changed the state:\n%s\n%s", before, after)
			}
			rep, err := f.j.Run(ctx, c)
			if err != nil {
				t.Fatalf("pass: %v", err)
			}
			if got := countsOf(rep); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			again, err := f.j.Run(ctx, c)
			if err != nil || countsOf(again) != tc.again {
				t.Errorf("second pass: %+v %v, want %+v", countsOf(again), err, tc.again)
			}
			check(t)
		})
	}
}

// lostEntryID is an entry id that never committed, as a crashed delete's.
func (f *fixture) lostEntryID() int64 {
	f.t.Helper()
	var id int64
	if err := f.pool.QueryRow(context.Background(), `SELECT nextval(pg_get_serial_sequence('imagenes_papelera', 'id'))`).Scan(&id); err != nil {
		f.t.Fatal(err)
	}
	return id
}
