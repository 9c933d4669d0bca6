package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/repo"
)

// generous bounds every wait of these tests: far beyond what the machine
// needs when loaded, only there so a broken build fails instead of hanging.
// No assertion depends on it: the order of events decides.
const generous = 60 * time.Second

// A batch is no member's hostage (issue 23): beside a member whose row or
// url another database session holds, the free members are answered while
// that session still holds it; the held one is deleted alone, waiting under
// its own deadline: trashed once the session lets go, or, when its deadline
// comes first, its deadline's error (a 503) with its row and file as they
// were.
func TestBatchNotHostage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// hold is what the other session takes: "row" (FOR UPDATE) or
		// "url" (the url's advisory lock, as a delete or upload holds it).
		hold string
		// short: the held member's deadline ends while the session holds.
		short bool
	}{
		{name: "row held, released", hold: "row"},
		{name: "url held, released", hold: "url"},
		{name: "row held past the member's deadline", hold: "row", short: true},
		{name: "url held past the member's deadline", hold: "url", short: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, []string{"", "", "", ""}, nil)
			held := 1
			ctx, cancel := context.WithTimeout(context.Background(), generous)
			defer cancel()
			locker := w.holder(t, ctx)
			switch tt.hold {
			case "row":
				locker.exec(t, `SELECT 1 FROM producto_imagenes WHERE id = $1 FOR UPDATE`, w.ids[held])
			case "url":
				locker.exec(t, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, w.urls[held])
			}
			calls := make([]*deleteCall, len(w.ids))
			for i := range calls {
				cctx := ctx
				if i == held && tt.short {
					var cancel context.CancelFunc
					// The member's own deadline, the request's: short here,
					// so that it ends while the session holds its row.
					cctx, cancel = context.WithTimeout(ctx, time.Second)
					defer cancel()
				}
				calls[i] = &deleteCall{ctx: cctx, req: w.request(call{i, ""}), done: make(chan deleteResult, 1)}
			}
			w.runBatch(calls)
			for i, c := range calls {
				if i == held {
					continue
				}
				r := waitResult(t, c, "free member")
				if r.err != nil {
					t.Errorf("free member %d: %v, want its entry", i, r.err)
				}
			}
			if tt.short {
				r := waitResult(t, calls[held], "held member past its deadline")
				if !errors.Is(r.err, context.DeadlineExceeded) {
					t.Errorf("held member: %v, want its deadline's error", r.err)
				}
			} else {
				select {
				case r := <-calls[held].done:
					t.Fatalf("held member answered %+v while its %s was held", r, tt.hold)
				default:
				}
			}
			locker.release(t)
			if !tt.short {
				if r := waitResult(t, calls[held], "held member"); r.err != nil {
					t.Errorf("held member after the release: %v, want its entry", r.err)
				}
			}
			// Whatever the timed-out delete left waiting in PostgreSQL has
			// ended once the row can be taken (its COMMIT is never sent).
			w.lockRow(t, ctx, w.ids[held])
			for i := range w.ids {
				row, live := w.row(t, i), w.isLive(i)
				keep := tt.short && i == held
				if row != keep || live != keep {
					t.Errorf("image %d: row=%v live=%v, want %v for both", i, row, live, keep)
				}
			}
		})
	}
}

// The batch runs on a context of its own bounded by its earliest member's
// deadline, and a retry after a failed batch runs each member on its own
// context: with every connection of the pool taken, the batch waits for
// one until the short member's deadline, fails, and the other members,
// retried alone on their own deadlines, are trashed once connections come
// back. (On WithoutCancel(first caller) + 30 s, the retries reused the
// spent batch context and failed too.)
func TestBatchBoundedByEarliestDeadline(t *testing.T) {
	t.Parallel()
	w := newWorld(t, []string{"", "", ""}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	var conns []*pgxpool.Conn
	for range w.pool.Config().MaxConns {
		c, err := w.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	released := false
	release := func() {
		if !released {
			released = true
			for _, c := range conns {
				c.Release()
			}
		}
	}
	defer release()
	short := 1
	shortCtx, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	calls := make([]*deleteCall, len(w.ids))
	for i := range calls {
		cctx := ctx
		if i == short {
			cctx = shortCtx
		}
		calls[i] = &deleteCall{ctx: cctx, req: w.request(call{i, ""}), done: make(chan deleteResult, 1)}
	}
	w.runBatch(calls)
	if r := waitResult(t, calls[short], "short member"); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("short member: %v, want its deadline's error", r.err)
	}
	release()
	for i, c := range calls {
		if i == short {
			continue
		}
		if r := waitResult(t, c, "long member"); r.err != nil {
			t.Errorf("member %d: %v, want its entry", i, r.err)
		}
	}
	for i := range w.ids {
		if row := w.row(t, i); row != (i == short) {
			t.Errorf("image %d: row=%v, want %v", i, row, i == short)
		}
	}
}

// runBatch runs calls as one batch, the way the coalescer does (on the
// context it makes for a batch), without waiting for it.
func (w *world) runBatch(calls []*deleteCall) {
	q := w.svc.deletes
	q.mu.Lock()
	q.queue = append(q.queue, calls...)
	q.running++
	q.mu.Unlock()
	go q.drain()
}

func waitResult(t *testing.T, c *deleteCall, what string) deleteResult {
	t.Helper()
	select {
	case r := <-c.done:
		return r
	case <-time.After(generous):
		t.Fatalf("%s: no answer after %v", what, generous)
		return deleteResult{}
	}
}

// holder is another database session with a transaction open.
type holder struct {
	conn *pgx.Conn
	tx   pgx.Tx
	done bool
}

func (w *world) holder(t *testing.T, ctx context.Context) *holder {
	t.Helper()
	conn, err := pgx.ConnectConfig(ctx, w.pool.Config().ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{conn: conn, tx: tx}
	t.Cleanup(func() { h.release(t) })
	return h
}

func (h *holder) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := h.tx.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

func (h *holder) release(t *testing.T) {
	if h.done {
		return
	}
	h.done = true
	if err := h.tx.Rollback(context.Background()); err != nil {
		t.Error(err)
	}
}

// lockRow waits until row id can be locked (or is gone), then lets go.
func (w *world) lockRow(t *testing.T, ctx context.Context, id int32) {
	t.Helper()
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT 1 FROM producto_imagenes WHERE id = $1 FOR UPDATE`, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) row(t *testing.T, i int) bool {
	t.Helper()
	var row bool
	if err := w.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM producto_imagenes WHERE id = $1)`, w.ids[i]).Scan(&row); err != nil {
		t.Fatal(err)
	}
	return row
}

func (w *world) isLive(i int) bool {
	_, err := os.Stat(filepath.Join(w.root, filepath.FromSlash(w.urls[i])))
	return err == nil
}

// Two deletes of rows another session holds, each arriving alone, hold no
// lane: deletes of free images coming after them are answered while the
// rows are still held (a lone delete waited for its row in its lane, so
// two held rows stalled every delete, issue 23).
func TestHeldRowsHoldNoLane(t *testing.T) {
	t.Parallel()
	w := newWorld(t, []string{"", "", "", "", ""}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	locker := w.holder(t, ctx)
	locker.exec(t, `SELECT 1 FROM producto_imagenes WHERE id = ANY($1) FOR UPDATE`, []int32{w.ids[0], w.ids[1]})
	heldDone := make(chan error, 2)
	for i, held := range []int{0, 1} {
		go func() {
			_, err := w.svc.DeleteImagen(ctx, w.ids[held], repo.All, "admin")
			heldDone <- err
		}()
		// Each arrives alone: the next only once this one waits for its row.
		w.waitLockWaiters(t, ctx, i+1)
	}
	for i := 2; i < len(w.ids); i++ {
		if _, err := w.svc.DeleteImagen(ctx, w.ids[i], repo.All, "admin"); err != nil {
			t.Fatalf("free image %d: %v, want its entry", i, err)
		}
	}
	locker.release(t)
	for range 2 {
		select {
		case err := <-heldDone:
			if err != nil {
				t.Errorf("held delete after the release: %v, want its entry", err)
			}
		case <-ctx.Done():
			t.Fatal("a held delete did not answer after the release")
		}
	}
	for i := range w.ids {
		if w.row(t, i) {
			t.Errorf("image %d still there", i)
		}
	}
}

// waitLockWaiters waits until n sessions of the world's database wait for
// a lock.
func (w *world) waitLockWaiters(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for {
		var got int
		if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&got); err != nil {
			t.Fatalf("waiting for %d lock waiters: %v", n, err)
		}
		if got >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
