package janitor_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// Transactions that commit between the janitor's reads and its acts are
// settled, not errors and not "nowhere" warnings (issue 15).
func TestRacesSettled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		point string
		// race runs once at point, with the entry the pass is acting on.
		race    func(f *fixture, e repo.Entrada)
		entries int // trash entries left after the pass
	}{
		// The recover step listed the file; the restore committed before
		// its entries were read, so it looks like a file without an entry.
		{"restore commits between listing and move", "recover-batch", func(f *fixture, e repo.Entrada) { restore(f, e) }, 0},
		// The purge step listed the entry; a restore and a new delete
		// committed before its file was checked.
		{"restore and delete again during the check", "check-entry", func(f *fixture, e repo.Entrada) {
			img := restore(f, e)
			if _, err := f.cat.DeleteImagen(context.Background(), img.ID, repo.All, "test"); err != nil {
				f.t.Errorf("delete again: %v", err)
			}
		}, 1},
		// The restore commits during the check: its file is live, its entry gone.
		{"restore commits during the check", "check-entry", func(f *fixture, e repo.Entrada) { restore(f, e) }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.image(false) // the janitor refuses an empty table
			e, _ := f.trashed()
			var once sync.Once
			conf := janitor.WithHook(cfg(), func(point, _ string) {
				if point == c.point {
					once.Do(func() { c.race(f, e) })
				}
			})
			rep, err := f.j.Run(context.Background(), conf)
			if err != nil {
				t.Fatalf("the pass stopped: %v", err)
			}
			if rep.TrashMissing != 0 || rep.Adopted != 0 {
				t.Errorf("got %+v, want nothing missing and nothing adopted", countsOf(rep))
			}
			if n := f.count(`SELECT count(*) FROM imagenes_papelera`); n != c.entries {
				t.Errorf("%d trash entries, want %d", n, c.entries)
			}
		})
	}
}

// restore restores e through the protocol.
func restore(f *fixture, e repo.Entrada) repo.Imagen {
	img, err := f.cat.Restore(context.Background(), e.ID)
	if err != nil {
		f.t.Errorf("restore: %v", err)
	}
	return img
}

// A delete whose move into the trash never committed (a crash), then a
// delete of the same image before any pass: the pass gives the stray file
// to the later delete's entry, and restoring that entry brings the file
// back (issue 11 defect 5).
func TestAbortedMoveThenDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.image(false) // the janitor refuses an empty table
	id, url := f.image(false)
	ctx := context.Background()
	var lost int64
	if err := f.pool.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('imagenes_papelera', 'id'))`).Scan(&lost); err != nil {
		t.Fatal(err)
	}
	if _, err := f.files.MoveToTrash(url, storage.TrashName(lost, time.Now(), url)); err != nil {
		t.Fatal(err) // the crashed delete's move; its entry never committed
	}
	e, err := f.cat.DeleteImagen(ctx, id, repo.All, "test")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.j.Run(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Adopted != 0 || rep.Recovered != 1 {
		t.Errorf("got %+v, want the file recovered into the later entry, none adopted", countsOf(rep))
	}
	if n := f.count(`SELECT count(*) FROM imagenes_papelera`); n != 1 {
		t.Errorf("%d trash entries, want one", n)
	}
	if _, err := f.cat.Restore(ctx, e.ID); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if _, err := os.Stat(f.live(url)); err != nil {
		t.Errorf("restored, but the file is not in place: %v", err)
	}
}
