package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// world is a database and a storage folder with images owned as a mix
// says: image i is owned by owners[i] ("" for none) and its file is there
// unless gone[i].
type world struct {
	pool *pgxpool.Pool
	svc  *Service
	root string
	ids  []int32
	urls []string
}

func newWorld(t *testing.T, owners []string, gone map[int]bool) *world {
	t.Helper()
	store, pool := dbtest.NewStore(t)
	root := t.TempDir()
	files, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	w := &world{pool: pool, svc: New(trash.New(store, files, zap.NewNop()), files, nil), root: root}
	w.ids, w.urls = dbtest.Images(t, store, root, owners, gone)
	return w
}

// call is one member of a mix: image index (-1: an id no image has) and the
// caller ("" is an admin).
type call struct {
	image  int
	caller string
}

func (w *world) request(c call) repo.DeleteRequest {
	id := int32(999999)
	if c.image >= 0 {
		id = w.ids[c.image]
	}
	if c.caller == "" {
		return repo.DeleteRequest{ID: id, Scope: repo.All, DeletedBy: "admin"}
	}
	return repo.DeleteRequest{ID: id, Scope: repo.Scope{Owner: c.caller}, DeletedBy: c.caller}
}

// outcome is what a caller saw, in words that do not depend on ids.
func outcome(e repo.Entrada, err error) string {
	switch {
	case errors.Is(err, repo.ErrNotFound):
		return "404"
	case err != nil:
		return "error: " + err.Error()
	}
	by := ""
	if e.EliminadoPor != nil {
		by = *e.EliminadoPor
	}
	return fmt.Sprintf("trashed by %s, sin_archivo=%v", by, e.SinArchivo)
}

// state is what the world holds after: rows left and trash files, by image.
func (w *world) state(t *testing.T) string {
	t.Helper()
	s := ""
	for i, id := range w.ids {
		var row bool
		if err := w.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM producto_imagenes WHERE id = $1)`, id).Scan(&row); err != nil {
			t.Fatal(err)
		}
		_, lerr := os.Stat(filepath.Join(w.root, filepath.FromSlash(w.urls[i])))
		matches, _ := filepath.Glob(filepath.Join(w.root, ".papelera", "*-"+path.Base(w.urls[i])))
		s += fmt.Sprintf("image %d: row=%v live=%v in trash=%d; ", i, row, lerr == nil, len(matches))
	}
	return s
}

// A batch answers every member exactly as the same deletes made one by one
// in the batch's order would have, and leaves the same rows and files.
func TestBatchEqualsSolo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		owners []string
		gone   map[int]bool
		calls  []call
	}{
		{name: "distinct images", owners: []string{"", "", ""},
			calls: []call{{0, ""}, {1, ""}, {2, ""}}},
		{name: "found and missing", owners: []string{""},
			calls: []call{{-1, ""}, {0, ""}, {-1, "alice"}}},
		{name: "same id twice: one success, one 404", owners: []string{""},
			calls: []call{{0, ""}, {0, ""}}},
		{name: "another owner's image, then its owner's delete", owners: []string{"bob"},
			calls: []call{{0, "alice"}, {0, "bob"}, {0, ""}}},
		{name: "owner first, then an admin", owners: []string{"alice", "alice"},
			calls: []call{{0, "alice"}, {0, ""}, {1, ""}, {1, "alice"}}},
		{name: "a file already gone", owners: []string{"", ""}, gone: map[int]bool{1: true},
			calls: []call{{1, ""}, {0, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			batch, solo := newWorld(t, tt.owners, tt.gone), newWorld(t, tt.owners, tt.gone)
			calls := make([]*deleteCall, len(tt.calls))
			for i, c := range tt.calls {
				calls[i] = &deleteCall{ctx: ctx, req: batch.request(c), done: make(chan deleteResult, 1)}
			}
			batch.svc.deleteBatch(ctx, calls)
			for i, c := range tt.calls {
				got := <-calls[i].done
				e, err := solo.svc.deleteOne(ctx, solo.request(c))
				if g, w := outcome(got.entry, got.err), outcome(e, err); g != w {
					t.Errorf("call %d %+v: batch %s, alone %s", i, c, g, w)
				}
			}
			if g, w := batch.state(t), solo.state(t); g != w {
				t.Errorf("state after the batch:\n%s\nafter the same deletes alone:\n%s", g, w)
			}
		})
	}
}

// A batch that fails (here a file that cannot move: its trash name is taken)
// puts its files back and retries its members one by one, so only the bad
// file's delete fails and its neighbours are trashed.
func TestBatchFailureRetriesOneByOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, []string{"", "", ""}, nil)
	// Every name the bad image's file could get in the trash in the next
	// minute is taken (renames never overwrite).
	bad := 1
	now := time.Now()
	for id := int64(1); id <= 20; id++ {
		for s := -2; s <= 60; s++ {
			name := storage.TrashName(id, now.Add(time.Duration(s)*time.Second), w.urls[bad])
			if err := os.WriteFile(filepath.Join(w.root, ".papelera", name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	calls := make([]*deleteCall, 3)
	for i := range calls {
		calls[i] = &deleteCall{ctx: ctx, req: w.request(call{i, ""}), done: make(chan deleteResult, 1)}
	}
	w.svc.deleteBatch(ctx, calls)
	for i, c := range calls {
		got := <-c.done
		if (got.err != nil) != (i == bad) || errors.Is(got.err, repo.ErrNotFound) {
			t.Errorf("member %d: %v, want an error only for the bad file", i, got.err)
		}
	}
	for i := range w.ids {
		var row bool
		if err := w.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM producto_imagenes WHERE id = $1)`, w.ids[i]).Scan(&row); err != nil {
			t.Fatal(err)
		}
		_, lerr := os.Stat(filepath.Join(w.root, filepath.FromSlash(w.urls[i])))
		if row != (i == bad) || (lerr == nil) != (i == bad) {
			t.Errorf("image %d: row=%v live=%v; want both only for the bad one", i, row, lerr == nil)
		}
	}
}
