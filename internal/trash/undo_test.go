package trash_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/trash"
)

// The undo of a commit PostgreSQL refused runs while the url's lock is
// held again. It used to run after the ROLLBACK had released it: a delete
// of the same image in that window found the row back and the file in the
// trash (gone, to it), recorded its entry sin_archivo and committed, and
// the undo then put the file back live with no row. Played in that window
// (a hook between the rollback and the undo): the second delete waits for
// the lock, then finds the file back in place and moves it, and nothing is
// left live without its row.
func TestUndoHoldsTheURLLocks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	ctx := context.Background()
	f.exec(t, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$`)
	f.exec(t, `CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON imagenes_papelera
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()`)
	del := func() error {
		return f.svc.Run(ctx, func(tx *trash.Tx) error {
			_, err := tx.DeleteImagenes(ctx, f.ids, repo.All, repo.MotivoImagen, "test")
			return err
		})
	}
	second := make(chan error, 1)
	var hooked atomic.Bool
	var waited error // how the hook's wait for the second delete ended
	trash.SetHook(f.svc, func(point string) {
		if point != "undo" || !hooked.CompareAndSwap(false, true) {
			return
		}
		// The first delete's commit was refused and rolled back; its file
		// is still in the trash. The second delete starts now, and must
		// wait for the url's lock until the file is back.
		if _, err := f.pool.Exec(ctx, `DROP TRIGGER refuse ON imagenes_papelera`); err != nil {
			waited = err
			return
		}
		go func() { second <- del() }()
		waited = waitBlockedOrDone(ctx, f, second)
	})
	if err := del(); !errors.Is(err, repo.ErrCommitRefused) {
		t.Fatalf("first delete: got %v, want its refused commit", err)
	}
	if !hooked.Load() || waited != nil {
		t.Fatalf("the undo's hook ran %v; the second delete: %v", hooked.Load(), waited)
	}
	select {
	case err := <-second:
		if err != nil {
			t.Fatalf("second delete: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the second delete did not end within a minute")
	}
	var sinArchivo bool
	if err := f.pool.QueryRow(ctx, `SELECT sin_archivo FROM imagenes_papelera`).Scan(&sinArchivo); err != nil {
		t.Fatalf("the second delete's entry: %v", err)
	}
	if f.live(0) || f.rows(t) != 0 || f.trashCount(t) != 1 || sinArchivo {
		t.Errorf("live %v, %d rows, %d trash files, entry sin_archivo %v; want the file in the trash under the second delete's entry, nothing live",
			f.live(0), f.rows(t), f.trashCount(t), sinArchivo)
	}
}

// waitBlockedOrDone waits (a minute at most) until a transaction of the
// test's database waits for an advisory lock, or the delete ended (done is
// then refilled for the test to read).
func waitBlockedOrDone(ctx context.Context, f *fixture, done chan error) error {
	const q = `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			return nil
		default:
		}
		var waiting bool
		if err := f.pool.QueryRow(ctx, q).Scan(&waiting); err != nil {
			return err
		}
		if waiting {
			return nil
		}
	}
	return errors.New("the second delete neither waited for a lock nor ended within a minute")
}

// A COMMIT pgx never sent (the request's context ended just before it:
// pgconn.SafeToRetry) did not happen: the transaction is rolled back, the
// files go back (under the url locks) and the error is a 503 try-again.
// It was "outcome unknown": the files stayed in the trash while the rows
// stayed live, for the janitor.
func TestNeverSentCommitIsUndone(t *testing.T) {
	t.Parallel()
	const n = 3
	f := newFixture(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	trash.SetHook(f.svc, func(point string) {
		if point == "before-commit" {
			cancel() // the request's time runs out between its moves and its COMMIT
		}
	})
	err := f.svc.Run(ctx, func(tx *trash.Tx) error {
		_, err := tx.DeleteImagenes(ctx, f.ids, repo.All, repo.MotivoImagen, "test")
		return err
	})
	if !errors.Is(err, repo.ErrCommitNotSent) || !errors.Is(err, repo.ErrUnavailable) || errors.Is(err, repo.ErrCommitUnknown) {
		t.Fatalf("got %v, want a never-sent commit, unavailable (503), not unknown", err)
	}
	live := 0
	for i := range f.urls {
		if f.live(i) {
			live++
		}
	}
	if live != n || f.trashCount(t) != 0 || f.rows(t) != n {
		t.Errorf("got %d live files, %d in the trash, %d rows; want %d, 0, %d", live, f.trashCount(t), f.rows(t), n, n)
	}
}

// What a transaction logs as done is logged only once it committed: a
// delete that finds its file gone says so ("file already gone; deleting the
// row anyway") when its COMMIT succeeds, and says nothing when PostgreSQL
// refuses it — the row is still there. It was logged before the COMMIT,
// whatever became of it; the janitor's reports count through AfterCommit
// the same way.
func TestLoggedOnlyWhenCommitted(t *testing.T) {
	t.Parallel()
	for _, refused := range []bool{false, true} {
		t.Run(fmt.Sprintf("refused=%v", refused), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 1)
			ctx := context.Background()
			if err := os.Remove(filepath.Join(f.root, filepath.FromSlash(f.urls[0]))); err != nil {
				t.Fatal(err)
			}
			if refused {
				f.exec(t, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$`)
				f.exec(t, `CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON imagenes_papelera
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()`)
			}
			core, logs := observer.New(zap.DebugLevel)
			svc := trash.New(f.store, f.files, zap.New(core))
			var counted int
			err := svc.Run(ctx, func(tx *trash.Tx) error {
				es, err := tx.DeleteImagenes(ctx, f.ids, repo.All, repo.MotivoImagen, "test")
				tx.AfterCommit(func() { counted += len(es) })
				return err
			})
			if refused != (err != nil) {
				t.Fatalf("got %v, want an error %v", err, refused)
			}
			logged := logs.FilterMessage("file already gone; deleting the row anyway").Len()
			if want := map[bool]int{false: 1, true: 0}[refused]; logged != want || counted != want {
				t.Errorf("logged %d times, counted %d; want %d (rows %d)", logged, counted, want, f.rows(t))
			}
		})
	}
}
