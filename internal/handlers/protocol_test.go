package handlers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/imagenes/imagenes/internal/storagetest"
)

// refuseCommits installs a deferred constraint trigger: every transaction
// that inserts a trash entry is refused by PostgreSQL at COMMIT.
func (e *env) refuseCommits() {
	e.t.Helper()
	e.exec(`CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused at commit (test)'; END $$`)
	e.exec(`CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON imagenes_papelera
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()`)
}

func TestDeleteProtocolUnderFailure(t *testing.T) {
	t.Parallel()
	type outcome struct {
		status    int
		rowKept   bool
		fileLive  bool
		trashSize int
		logged    string
	}
	tests := []struct {
		name   string
		family string // "balsamoa" or "cat"
		disk   bool   // a failure only a folder can have
		setup  func(e *env, url string)
		want   outcome
	}{
		{name: "commit refused (balsamoa)", family: "balsamoa", setup: func(e *env, _ string) { e.refuseCommits() },
			want: outcome{status: 500, rowKept: true, fileLive: true}},
		{name: "commit refused (cat)", family: "cat", setup: func(e *env, _ string) { e.refuseCommits() },
			want: outcome{status: 500, rowKept: true, fileLive: true}},
		{name: "move fails", family: "balsamoa", disk: true, setup: func(e *env, _ string) {
			// A file where the trash folder should be: every rename into it fails.
			trash := filepath.Join(e.root, ".papelera")
			if err := os.Remove(trash); err != nil {
				e.t.Fatal(err)
			}
			if err := os.WriteFile(trash, []byte("not a folder"), 0o644); err != nil {
				e.t.Fatal(err)
			}
		}, want: outcome{status: 500, rowKept: true, fileLive: true, trashSize: -1}},
		{name: "file already gone (balsamoa)", family: "balsamoa", setup: func(e *env, url string) {
			e.kit.Remove(e.t, url[1:])
		}, want: outcome{status: 200, logged: "file already gone"}},
		{name: "file already gone (cat)", family: "cat", setup: func(e *env, url string) {
			e.kit.Remove(e.t, url[1:])
		}, want: outcome{status: 204, logged: "file already gone"}},
		{name: "healthy", family: "cat", setup: func(*env, string) {}, want: outcome{status: 204, trashSize: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var o envOpts
			if tt.disk {
				o.storage = storagetest.Disk
			}
			e := newEnv(t, o)
			id, url := e.upload(pngBytes)
			tt.setup(e, url)
			path := fmt.Sprintf("/api/v1/admin/imagenes/%d", id)
			if tt.family == "cat" {
				path = fmt.Sprintf("/api/image/%d", id)
			}
			got := e.do(t, req{method: "DELETE", path: path, token: e.admin})
			if got.status != tt.want.status {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.want.status)
			}
			if got.status == 500 {
				m := got.json(t)
				if tt.family == "balsamoa" && m["mensaje"] != "Error al eliminar la imagen de la base de datos" {
					t.Errorf("got %s, want Balsamoa's 500 mensaje", got.body)
				}
				if tt.family == "cat" && m["error"] == nil {
					t.Errorf("got %s, want {\"error\"}", got.body)
				}
				if contains(string(got.body), "refused") || contains(string(got.body), "papelera") {
					t.Errorf("got %s, want no internal error text in a 500", got.body)
				}
			}
			if e.rowExists(id) != tt.want.rowKept {
				t.Errorf("got row present=%v, want %v", e.rowExists(id), tt.want.rowKept)
			}
			if e.live(url) != tt.want.fileLive {
				t.Errorf("got live file present=%v, want %v", e.live(url), tt.want.fileLive)
			}
			if tt.want.trashSize >= 0 {
				if n := len(e.trashFiles()); n != tt.want.trashSize {
					t.Errorf("got %d files in the trash, want %d", n, tt.want.trashSize)
				}
			}
			if tt.want.logged != "" && !e.logged(tt.want.logged) {
				t.Errorf("got no log line %q, want one", tt.want.logged)
			}
		})
	}
}

func TestConcurrentDeletesOfOneID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, url := e.upload(pngBytes)
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path := fmt.Sprintf("/api/v1/admin/imagenes/%d", id)
			if i%2 == 1 {
				path = fmt.Sprintf("/api/image/%d", id)
			}
			statuses[i] = e.do(t, req{method: "DELETE", path: path, token: e.admin}).status
		}(i)
	}
	wg.Wait()
	ok, notFound := 0, 0
	for _, s := range statuses {
		switch s {
		case 200, 204:
			ok++
		case 404:
			notFound++
		default:
			t.Errorf("got status %d, want only 200/204 and 404", s)
		}
	}
	if ok != 1 || notFound != n-1 {
		t.Errorf("got %d successes and %d not-found, want 1 and %d (statuses %v)", ok, notFound, n-1, statuses)
	}
	var entries int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM imagenes_papelera WHERE imagen_id = $1`, id).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if entries != 1 || len(e.trashFiles()) != 1 || e.live(url) {
		t.Errorf("got %d entries, trash %v, live file present=%v; want one entry, one trash file, no live file", entries, e.trashFiles(), e.live(url))
	}
}

// Rows whose url climbs out of the storage root (written by hand or by an
// old bug) are deleted without the service touching anything outside.
func TestDeleteNeverTouchesOutsideRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{storage: storagetest.Disk}) // symlinks: the folder's own attack
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim.png")
	if err := os.WriteFile(victim, pngBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.root, "recursos", "imagenes", "productos", "escape")); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(e.root, victim)
	if err != nil {
		t.Fatal(err)
	}
	urls := []string{
		"/recursos/" + filepath.ToSlash(rel),
		"/recursos/imagenes/../../" + filepath.ToSlash(rel),
		"/recursos/imagenes/productos/escape/victim.png",
		"/recursos/imagenes/productos/..\\..\\..\\victim.png",
		"/recursos/imagenes/productos/%2e%2e/%2e%2e/victim.png",
		"/recursos/imagenes/productos/x\x00/victim.png",
	}
	for i, u := range urls {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var id int
			if err := e.pool.QueryRow(context.Background(),
				`INSERT INTO producto_imagenes (url, owner_sub) VALUES ($1, 'alice') RETURNING id`, u).Scan(&id); err != nil {
				// PostgreSQL refuses NUL in text: nothing to delete then.
				if contains(err.Error(), "0x00") {
					return
				}
				t.Fatal(err)
			}
			for _, path := range []string{fmt.Sprintf("/api/image/%d", id), fmt.Sprintf("/api/v1/admin/imagenes/%d", id)} {
				got := e.do(t, req{method: "GET", path: path, token: e.admin})
				if contains(string(got.body), "\x89PNG") {
					t.Fatalf("GET %s served the file outside the root", path)
				}
			}
			got := e.do(t, req{method: "DELETE", path: fmt.Sprintf("/api/image/%d", id), token: e.alice})
			if got.status != 204 {
				t.Errorf("got %d %s, want 204 (row removed, nothing on disk touched)", got.status, got.body)
			}
			if _, err := os.Stat(victim); err != nil {
				t.Fatalf("the file outside the root was touched: %v", err)
			}
		})
	}
	if n := len(e.trashFiles()); n != 0 {
		t.Errorf("got %d trash files, want 0", n)
	}
}

// Legacy rows can share one url: deleting one of them must not move the
// file the other still references; deleting the last one does.
func TestDeleteOfSharedURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, url := e.upload(pngBytes)
	var twin int
	if err := e.pool.QueryRow(context.Background(),
		`INSERT INTO producto_imagenes (url) VALUES ($1) RETURNING id`, url).Scan(&twin); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		id        int
		fileLive  bool
		trashSize int
	}{
		{id: twin, fileLive: true, trashSize: 0},
		{id: id, fileLive: false, trashSize: 1},
	}
	for i, s := range steps {
		got := e.do(t, req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/imagenes/%d", s.id), token: e.admin})
		if got.status != 200 {
			t.Fatalf("step %d: got %d %s, want 200", i, got.status, got.body)
		}
		if e.live(url) != s.fileLive || len(e.trashFiles()) != s.trashSize {
			t.Errorf("step %d: live=%v trash=%v, want live=%v and %d trash files", i, e.live(url), e.trashFiles(), s.fileLive, s.trashSize)
		}
		e.checkConsistent()
	}
}
