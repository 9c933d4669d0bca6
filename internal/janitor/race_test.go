package janitor_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/crashtest"
	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// Transactions that commit, or are still in flight, between the janitor's
// reads and its acts are settled: the pass goes on (no error), adopts
// nothing, reports no file "nowhere", and leaves rows, entries and files
// consistent (issue 15). The races are played at the pass's named points;
// a restore in flight is the real Restore stopped at its COMMIT.
func TestRacesSettled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// at says what happens, once, when the pass reaches each point.
		at       map[string]func(r *race)
		entries  int // trash entries left after the pass
		inFlight int // what the pass reports left to a transaction in flight
	}{
		// The recover step listed the file; the restore committed before
		// its entries were read, so it looks like a file without an entry.
		{"restore commits between listing and move",
			map[string]func(*race){"recover-batch": (*race).restore}, 0, 0},
		// Same, and the restored image was deleted again (its product was):
		// the listed name is gone, its file is in the trash under a new one.
		{"restore and delete again between listing and move",
			map[string]func(*race){"recover-batch": (*race).restoreAndDelete}, 1, 0},
		// The purge step listed the entry; a restore and a new delete
		// committed before its file was checked.
		{"restore and delete again during the check",
			map[string]func(*race){"check-entry": (*race).restoreAndDelete}, 1, 0},
		// The restore commits during the check: its file is live, its entry gone.
		{"restore commits during the check",
			map[string]func(*race){"check-entry": (*race).restore}, 0, 0},
		// A restore in flight (file moved out, COMMIT not answered) holds the
		// url's lock: the pass leaves it alone, in its check and in the
		// orphans step (a live file without a visible row); it commits after.
		{"restore in flight during the check, commits after it",
			map[string]func(*race){"check-entry": (*race).holdRestore}, 0, 2},
		// The pass saw the file gone from the trash; then the restore's
		// COMMIT was refused and its file went back into the trash.
		{"restore in flight during the check, refused at its commit",
			map[string]func(*race){"check-entry": (*race).holdRestore, "check-entry-moved": (*race).refuse}, 1, 0},
		// The pass saw the file gone from the trash; then the restore
		// committed and the image was deleted again: its file is nowhere the
		// listed entry says, because that entry is gone.
		{"restore in flight during the check, commits, deleted again",
			map[string]func(*race){"check-entry": (*race).holdRestore, "check-entry-moved": (*race).commitAndDelete}, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.image(false) // the janitor refuses an empty table
			e, _ := f.trashed()
			r := &race{f: f, e: e}
			rep := r.pass(t, c.at)
			if rep.TrashMissing != 0 || rep.Adopted != 0 || rep.InFlight != c.inFlight {
				t.Errorf("got %+v, want nothing missing, nothing adopted, %d in flight", countsOf(rep), c.inFlight)
			}
			if n := f.count(`SELECT count(*) FROM imagenes_papelera`); n != c.entries {
				t.Errorf("%d trash entries, want %d", n, c.entries)
			}
			crashtest.CheckStore(t, f.pool, f.kit, nil, "after the pass")
		})
	}
}

// race is the entry a pass is working on, and what the test does to it.
type race struct {
	f    *fixture
	e    repo.Entrada
	img  repo.Imagen // the image a committed restore brought back
	held chan error  // a restore stopped at its COMMIT: its result, once let go
	gate *pgxpool.Conn
}

// pass runs one janitor pass that calls at[point](r) the first time it
// reaches each point, fails the test if it stops or misses a point, and
// lets a restore held at its COMMIT go once the pass is over.
func (r *race) pass(t *testing.T, at map[string]func(*race)) janitor.Report {
	t.Helper()
	done := map[string]bool{}
	conf := janitor.WithHook(cfg(), func(point, _ string) {
		if act, ok := at[point]; ok && !done[point] {
			done[point] = true
			act(r)
		}
	})
	rep, err := r.f.j.Run(context.Background(), conf)
	if err != nil {
		t.Fatalf("the pass stopped: %v", err)
	}
	for point := range at {
		if !done[point] {
			t.Errorf("the pass never reached %q", point)
		}
	}
	if r.held != nil {
		if err := r.release(false); err != nil {
			t.Errorf("the restore held in flight, let go after the pass: %v", err)
		}
	}
	return rep
}

// restore restores the entry through the protocol.
func (r *race) restore() {
	img, err := r.f.cat.Restore(context.Background(), r.e.ID)
	if err != nil {
		r.f.t.Errorf("restore: %v", err)
	}
	r.img = img
}

// restoreAndDelete restores the entry and deletes the image again.
func (r *race) restoreAndDelete() {
	r.restore()
	r.deleteAgain()
}

func (r *race) deleteAgain() {
	if _, err := r.f.cat.DeleteImagen(context.Background(), r.img.ID, repo.All, "test"); err != nil {
		r.f.t.Errorf("delete again: %v", err)
	}
}

// gateKey is the advisory lock the held restore's COMMIT waits for.
const gateKey = 4715

// holdRestore starts the real Restore of the entry and returns once it has
// moved the file out and sent its COMMIT, which a deferred trigger holds on
// an advisory lock the test owns: a restore in flight.
func (r *race) holdRestore() {
	ctx := context.Background()
	r.f.exec(`CREATE TABLE race_gate (refuse bool NOT NULL)`)
	r.f.exec(`INSERT INTO race_gate VALUES (false)`)
	r.f.exec(`CREATE FUNCTION race_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(` + strconv.Itoa(gateKey) + `);
	IF (SELECT refuse FROM race_gate) THEN
		RAISE EXCEPTION 'commit refused by the test';
	END IF;
	RETURN NULL;
END $$`)
	r.f.exec(`CREATE CONSTRAINT TRIGGER race_gate AFTER DELETE ON imagenes_papelera
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION race_gate()`)
	gate, err := r.f.pool.Acquire(ctx)
	if err != nil {
		r.f.t.Fatal(err)
	}
	if _, err := gate.Exec(ctx, `SELECT pg_advisory_lock($1)`, gateKey); err != nil {
		r.f.t.Fatal(err)
	}
	held := make(chan error, 1)
	r.gate, r.held = gate, held
	go func() {
		img, err := r.f.cat.Restore(ctx, r.e.ID)
		r.img = img // read by the test only after held
		held <- err
	}()
	const q = `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = 0 AND objid = $1)`
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := r.f.pool.QueryRow(ctx, q, gateKey).Scan(&waiting); err != nil {
			r.f.t.Fatal(err)
		}
		if waiting {
			return
		}
		select {
		case err := <-held:
			// Not Fatal: the pass calling this holds its transaction.
			r.f.t.Errorf("the restore ended before its COMMIT: %v", err)
			r.held, r.gate = nil, nil
			gate.Exec(ctx, `SELECT pg_advisory_unlock($1)`, gateKey) //nolint:errcheck // the test failed already
			gate.Release()
			return
		default:
		}
		if time.Now().After(deadline) {
			r.f.t.Fatal("the restore never reached its COMMIT")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// release lets the held restore's COMMIT go on (refused when refuse) and
// returns the restore's result.
func (r *race) release(refuse bool) error {
	ctx := context.Background()
	if _, err := r.gate.Exec(ctx, `UPDATE race_gate SET refuse = $1`, refuse); err != nil {
		return err
	}
	if _, err := r.gate.Exec(ctx, `SELECT pg_advisory_unlock($1)`, gateKey); err != nil {
		return err
	}
	r.gate.Release()
	held := r.held
	r.held = nil
	select {
	case err := <-held:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("the restore did not finish after its COMMIT was let go")
	}
}

// refuse has the held restore's COMMIT refused: its file goes back into the
// trash.
func (r *race) refuse() {
	if err := r.release(true); !errors.Is(err, repo.ErrCommitRefused) {
		r.f.t.Errorf("restore refused at commit: got %v, want ErrCommitRefused", err)
	}
}

// commitAndDelete lets the held restore commit, then deletes the image again.
func (r *race) commitAndDelete() {
	if err := r.release(false); err != nil {
		r.f.t.Errorf("restore: %v", err)
	}
	r.deleteAgain()
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
	if _, err := f.files.MoveToTrash(t.Context(), url, storage.TrashName(lost, time.Now(), url)); err != nil {
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
	if !f.isLive(url) {
		t.Errorf("restored, but the file is not in place")
	}
}

// A replica killed inside a restore, between its move out of the trash and
// its COMMIT, leaves the entry with its file live and no row. The next
// restore of the entry takes the file where it is (trash.Tx.RestoreEntry);
// the pass moves it back into the trash under the entry (checkEntry). Each
// order of the two, and the restore in flight while the pass checks, ends
// consistent: the pass goes on, nothing adopted, nothing "nowhere".
func TestRestoreOfAFileLeftLiveRacesThePass(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		at       map[string]func(r *race) // as in TestRacesSettled
		after    bool                     // the restore runs after the pass
		inFlight int
	}{
		{name: "the restore commits during the check",
			at: map[string]func(*race){"check-entry": (*race).restore}},
		// Its url's lock is held: the check and the orphans step (a live
		// file without a visible row) leave it to the restore.
		{name: "the restore is in flight during the check, commits after it",
			at: map[string]func(*race){"check-entry": (*race).holdRestore}, inFlight: 2},
		{name: "the pass first: the file goes back into the trash, then the restore", after: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.image(false) // the janitor refuses an empty table
			e, url := f.trashed()
			f.kit.Move(t, trashKey(storage.TrashName(e.ID, e.EliminadoEn, e.URL)), key(url)) // what the killed restore left
			r := &race{f: f, e: e}
			rep := r.pass(t, c.at)
			if c.after {
				if rep.Recovered != 1 {
					t.Errorf("got %+v, want the live file recovered into its entry", countsOf(rep))
				}
				r.restore()
			}
			if rep.TrashMissing != 0 || rep.Adopted != 0 || rep.Orphans != 0 || rep.InFlight != c.inFlight {
				t.Errorf("got %+v, want nothing missing, adopted or orphaned, %d in flight", countsOf(rep), c.inFlight)
			}
			if n := f.count(`SELECT count(*) FROM imagenes_papelera`); n != 0 || !f.isLive(url) {
				t.Errorf("%d trash entries, live %v: want the image restored", n, f.isLive(url))
			}
			crashtest.CheckStore(t, f.pool, f.kit, nil, "after the pass and the restore")
		})
	}
}
