package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storagetest"
	"github.com/imagenes/imagenes/internal/trash"
)

// trashedImage uploads an image, deletes it and returns its id, url, trash
// entry and the entry's trash file name.
func (e *env) trashedImage() (id int, url string, entry int, name string) {
	e.t.Helper()
	id, url = e.upload(pngBytes)
	del := e.send("DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", id), nil)
	if del.status != 200 {
		e.t.Fatalf("delete: got %d %s", del.status, del.body)
	}
	entry = int(del.json(e.t)["papelera_id"].(float64))
	names := e.trashFiles()
	if len(names) != 1 {
		e.t.Fatalf("trash after the delete: %v, want one file", names)
	}
	return id, url, entry, names[0]
}

func (e *env) restore(entry int) resp {
	e.t.Helper()
	return e.send("POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", entry), nil)
}

// A restore meets whatever other replicas, a killed one and the janitor
// left in the storage: each state gets a clear answer in the route's
// {"mensaje"} shape, never a 500, and nothing half-done — a refused
// restore leaves the entry, the row's absence and every file as it found
// them. The first case is what TestReplicas hit on the bucket (a 500 in 3
// of 8 runs): a restore on the replica that was SIGKILLed had moved the
// file out of the trash and never committed, and the next restore of that
// entry found no trash file.
func TestRestoreMeetsTheStorage(t *testing.T) {
	t.Parallel()
	other := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{8}, 200)...) // pngBytes' size, other bytes
	cases := []struct {
		name  string
		kinds []string // the backends where the state can be; nil: both
		setup func(e *env, url, trashKey string)
		// want: the status and its message; restored: the image is back
		// with its bytes, else the entry and the files are as setup left
		// them.
		status   int
		mensaje  string
		restored bool
	}{
		{name: "the file is in the trash", setup: func(*env, string, string) {},
			status: 200, mensaje: "Imagen restaurada correctamente", restored: true},
		{name: "a restore moved the file out and never committed", setup: func(e *env, url, tk string) {
			e.kit.Move(e.t, tk, url[1:])
		}, status: 200, mensaje: "Imagen restaurada correctamente", restored: true},
		// On a bucket a move is a copy then a delete: a crash between the
		// two leaves the same bytes under both keys.
		{name: "a move cut between its copy and its delete", kinds: []string{storagetest.S3}, setup: func(e *env, url, tk string) {
			e.kit.Copy(e.t, tk, url[1:])
		}, status: 200, mensaje: "Imagen restaurada correctamente", restored: true},
		{name: "another file of the same size at the url", setup: func(e *env, url, _ string) {
			e.kit.Put(e.t, url[1:], other, 0)
		}, status: 409, mensaje: "La URL de la imagen ya está en uso por otra imagen"},
		{name: "another file of another size at the url", setup: func(e *env, url, _ string) {
			e.kit.Put(e.t, url[1:], gifBytes[:100], 0)
		}, status: 409, mensaje: "La URL de la imagen ya está en uso por otra imagen"},
		{name: "the file is gone from the trash and another file is at the url", setup: func(e *env, url, tk string) {
			e.kit.Remove(e.t, tk)
			e.kit.Put(e.t, url[1:], gifBytes[:100], 0)
		}, status: 409, mensaje: "La URL de la imagen ya está en uso por otra imagen"},
		{name: "the file is nowhere", setup: func(e *env, _, tk string) {
			e.kit.Remove(e.t, tk)
		}, status: 409, mensaje: "El archivo de la imagen no está en la papelera ni en su lugar: no se puede restaurar"},
		{name: "the entry was purged", setup: func(e *env, _, tk string) {
			e.exec(`DELETE FROM imagenes_papelera`)
			e.kit.Remove(e.t, tk)
		}, status: 404, mensaje: "Entrada de papelera no encontrada (purgada o ya restaurada)"},
	}
	kind := storagetest.KindFromEnv(t) // make test runs this package on both
	for _, tc := range cases {
		if tc.kinds != nil && !slices.Contains(tc.kinds, kind) {
			continue // a state this backend cannot be in
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id, url, entry, name := e.trashedImage()
			tc.setup(e, url, ".papelera/"+name)
			before := e.kit.Keys(t)
			entries := e.count(`SELECT count(*) FROM imagenes_papelera`)

			got := e.restore(entry)
			if got.status != tc.status || got.json(t)["mensaje"] != tc.mensaje {
				t.Fatalf("got %d %s, want %d %q", got.status, got.body, tc.status, tc.mensaje)
			}
			if tc.restored {
				if !e.rowExists(id) || !bytes.Equal(e.kit.Read(t, url[1:]), pngBytes) {
					t.Errorf("row %v, live bytes %q: want the image back with its bytes", e.rowExists(id), e.kit.Read(t, url[1:]))
				}
				if n := e.count(`SELECT count(*) FROM imagenes_papelera`); n != 0 {
					t.Errorf("%d trash entries left, want none", n)
				}
				e.checkConsistent()
				return
			}
			if e.rowExists(id) {
				t.Errorf("image %d is back after a %d", id, got.status)
			}
			if n := e.count(`SELECT count(*) FROM imagenes_papelera`); n != entries {
				t.Errorf("%d trash entries after the %d, want the %d before it", n, got.status, entries)
			}
			if after := e.kit.Keys(t); !slices.Equal(after, before) {
				t.Errorf("files after the %d: %v, want them as they were: %v", got.status, after, before)
			}
		})
	}
}

// A restore whose replica dies at its COMMIT (its connection cut, as a
// SIGKILL does) has moved the file out of the trash; PostgreSQL rolls it
// back, and the restore of the same entry that waited behind it takes the
// entry and finds the file live: it restores it (200), the state is
// consistent. Before, that second restore answered 500.
func TestRestoreAfterAReplicaDiedInItsRestore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, url, entry, name := e.trashedImage()
	ctx := context.Background()
	gate := e.commitGate()

	// The restore that dies: the real protocol, on its own service,
	// held by the gate at its COMMIT.
	dying := make(chan error, 1)
	go func() {
		dying <- trash.New(e.store, e.files, zap.NewNop()).Run(ctx, func(tx *trash.Tx) error {
			_, err := tx.RestoreEntry(ctx, int64(entry))
			return err
		})
	}()
	pid := gate.waiter(t)
	if e.kit.Exists(t, ".papelera/"+name) || !e.live(url) {
		t.Fatal("the held restore has not moved the file out")
	}
	// The next restore of the entry waits for the dying one's locks.
	next := make(chan resp, 1)
	go func() { next <- e.on(t).restore(entry) }()
	e.waitLocked(t, pid)

	e.exec(`SELECT pg_terminate_backend($1)`, pid)
	if err := <-dying; err == nil {
		t.Fatal("the restore whose connection was cut reported success")
	}
	gate.open(t)
	got := <-next
	if got.status != 200 {
		t.Fatalf("the next restore: got %d %s, want 200", got.status, got.body)
	}
	if !e.rowExists(id) || !bytes.Equal(e.kit.Read(t, url[1:]), pngBytes) {
		t.Errorf("row %v: want the image back with its bytes", e.rowExists(id))
	}
	if !e.logged("restored in place") {
		t.Error("the restore in place was not logged")
	}
	e.checkConsistent()
}

// A restore and the janitor's purge of the same entry, in both orders, on
// the real protocol steps: whichever holds the entry first wins, the other
// gets its clear answer (the restore a 404; the purge skips the entry a
// restore holds), and nothing is half-done.
func TestRestoreAndPurgeOfOneEntry(t *testing.T) {
	t.Parallel()
	t.Run("purge first", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		id, url, entry, _ := e.trashedImage()
		ctx := context.Background()
		purging, release := make(chan []repo.Entrada, 1), make(chan struct{})
		purged := make(chan error, 1)
		go func() {
			purged <- trash.New(e.store, e.files, zap.NewNop()).Run(ctx, func(tx *trash.Tx) error {
				es, _, err := tx.PurgeEntries(ctx, []int64{int64(entry)}, time.Now().Add(time.Hour))
				purging <- es
				<-release
				return err
			})
		}()
		if es := <-purging; len(es) != 1 {
			t.Fatalf("the purge took %d entries, want 1", len(es))
		}
		next := make(chan resp, 1)
		go func() { next <- e.on(t).restore(entry) }()
		e.waitLocked(t, 0)
		close(release)
		if err := <-purged; err != nil {
			t.Fatalf("purge: %v", err)
		}
		if got := <-next; got.status != 404 || got.json(t)["mensaje"] != "Entrada de papelera no encontrada (purgada o ya restaurada)" {
			t.Fatalf("the restore behind the purge: got %d %s, want the 404", got.status, got.body)
		}
		if e.rowExists(id) || e.live(url) || len(e.trashFiles()) != 0 || e.count(`SELECT count(*) FROM imagenes_papelera`) != 0 {
			t.Errorf("row %v, live %v, trash %v: want all gone", e.rowExists(id), e.live(url), e.trashFiles())
		}
		e.checkConsistent()
	})
	t.Run("restore first", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		id, url, entry, _ := e.trashedImage()
		ctx := context.Background()
		gate := e.commitGate()
		next := make(chan resp, 1)
		go func() { next <- e.on(t).restore(entry) }()
		gate.waiter(t)
		err := trash.New(e.store, e.files, zap.NewNop()).Run(ctx, func(tx *trash.Tx) error {
			es, _, err := tx.PurgeEntries(ctx, []int64{int64(entry)}, time.Now().Add(time.Hour))
			if err == nil && len(es) != 0 {
				t.Errorf("the purge took %d entries a restore holds, want none", len(es))
			}
			return err
		})
		if err != nil {
			t.Fatalf("purge: %v", err)
		}
		gate.open(t)
		if got := <-next; got.status != 200 {
			t.Fatalf("the restore: got %d %s, want 200", got.status, got.body)
		}
		if !e.rowExists(id) || !e.live(url) {
			t.Errorf("row %v, live %v: want the image back", e.rowExists(id), e.live(url))
		}
		e.checkConsistent()
	})
}

// gate holds every transaction that deletes a trash entry (a restore, a
// purge) at its COMMIT until opened: a deferred trigger waits for an
// advisory lock the test holds on its own connection.
type gate struct {
	e      *env
	unlock func() error // nil once opened
}

const gateKey = 4716

func (e *env) commitGate() *gate {
	e.t.Helper()
	ctx := context.Background()
	e.exec(`CREATE FUNCTION restore_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock(` + fmt.Sprint(gateKey) + `); RETURN NULL; END $$`)
	e.exec(`CREATE CONSTRAINT TRIGGER restore_gate AFTER DELETE ON imagenes_papelera
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION restore_gate()`)
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, gateKey); err != nil {
		e.t.Fatal(err)
	}
	g := &gate{e: e}
	g.unlock = func() error {
		defer conn.Release()
		_, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, gateKey)
		return err
	}
	e.t.Cleanup(func() {
		if g.unlock != nil {
			g.unlock() //nolint:errcheck // the test failed before opening it
		}
	})
	return g
}

// waiter waits (10 s at most) until a transaction waits at the gate and
// returns its backend's pid.
func (g *gate) waiter(t testing.TB) int {
	t.Helper()
	const q = `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = 0 AND objid = $1`
	for deadline := time.Now().Add(10 * time.Second); ; {
		var pid int
		err := g.e.pool.QueryRow(context.Background(), q, gateKey).Scan(&pid)
		if err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no transaction reached the gate: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// open lets the held transactions commit.
func (g *gate) open(t testing.TB) {
	t.Helper()
	unlock := g.unlock
	g.unlock = nil
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

// waitLocked waits (10 s at most) until a backend other than pid 'besides'
// (0: none) waits for a lock: a request queued behind a transaction.
func (e *env) waitLocked(t testing.TB, besides int) {
	t.Helper()
	const q = `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
	AND wait_event_type = 'Lock' AND pid <> $1)`
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := e.pool.QueryRow(context.Background(), q, besides).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing waited for a lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
