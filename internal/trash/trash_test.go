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

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
	"github.com/imagenes/imagenes/internal/trash"
)

type fixture struct {
	pool  *pgxpool.Pool
	svc   *trash.Service
	store *repo.Store
	files *storage.Storage
	root  string
	ids   []int32
	urls  []string
}

// newFixture makes n images with real files.
func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	store, pool := dbtest.NewStore(t)
	root := t.TempDir()
	files, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	f := &fixture{pool: pool, svc: trash.New(store, files, zap.NewNop()), store: store, files: files, root: root}
	f.addImages(t, n)
	return f
}

// addImages makes n more unattached images with real files.
func (f *fixture) addImages(t testing.TB, n int) {
	t.Helper()
	ids, urls := dbtest.Images(t, f.store, f.root, make([]string, n), nil)
	f.ids, f.urls = append(f.ids, ids...), append(f.urls, urls...)
}

func (f *fixture) live(i int) bool {
	_, err := os.Stat(filepath.Join(f.root, filepath.FromSlash(f.urls[i])))
	return err == nil
}

func (f *fixture) trashCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(f.root, ".papelera"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func (f *fixture) rows(t *testing.T) int {
	t.Helper()
	imgs, err := f.store.ListImagenes(context.Background(), repo.ImagenFilter{Scope: repo.All, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(imgs)
}

// Run moves every file back when the transaction does not happen, and
// leaves them for the janitor when nobody can know whether it happened.
func TestRunUndoesFileMoves(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	// An after is what runs after the moves, before commit; a case's
	// fault sets the database up and returns it.
	type after = func(ctx context.Context, tx *trash.Tx) error
	tests := []struct {
		name      string
		fault     func(t *testing.T, f *fixture, ctx context.Context) after
		wantErr   error
		wantLive  bool // files back in place?
		wantTrash int
		wantRows  int
	}{
		{"commit", func(*testing.T, *fixture, context.Context) after {
			return func(context.Context, *trash.Tx) error { return nil }
		}, nil, false, 3, 0},
		{"fn fails after the moves", func(*testing.T, *fixture, context.Context) after {
			return func(context.Context, *trash.Tx) error { return errBoom }
		}, errBoom, true, 0, 3},
		{"commit refused", func(t *testing.T, f *fixture, ctx context.Context) after {
			f.exec(t, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$`)
			f.exec(t, `CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON imagenes_papelera
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()`)
			return func(context.Context, *trash.Tx) error { return nil }
		}, repo.ErrCommitRefused, true, 0, 3},
		{"commit outcome unknown", func(t *testing.T, f *fixture, ctx context.Context) after {
			// Terminate the transaction's backend from outside, so its
			// COMMIT gets no answer. The rows stay (PostgreSQL rolled
			// back) and the files stay in the trash for the janitor.
			return func(context.Context, *trash.Tx) error {
				f.exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND state = 'idle in transaction'`)
				// The signal is asynchronous: wait until the backend is
				// gone, so the COMMIT surely meets a dead connection.
				for i := 0; ; i++ {
					var n int
					if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND state = 'idle in transaction'`).Scan(&n); err != nil {
						return err
					}
					if n == 0 {
						return nil
					}
					if i == 500 {
						return errors.New("terminated backend still there after 5s")
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		}, repo.ErrCommitUnknown, false, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 3)
			ctx := context.Background()
			after := tt.fault(t, f, ctx)
			err := f.svc.Run(ctx, func(tx *trash.Tx) error {
				if _, err := tx.DeleteImagenes(ctx, f.ids, repo.All, repo.MotivoImagen, "test"); err != nil {
					return err
				}
				return after(ctx, tx)
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			for i := range f.urls {
				if f.live(i) != tt.wantLive {
					t.Errorf("file %d live=%v, want %v", i, f.live(i), tt.wantLive)
				}
			}
			if n := f.trashCount(t); n != tt.wantTrash {
				t.Errorf("got %d trash files, want %d", n, tt.wantTrash)
			}
			if n := f.rows(t); n != tt.wantRows {
				t.Errorf("got %d rows, want %d", n, tt.wantRows)
			}
		})
	}
}

func (f *fixture) exec(t *testing.T, sql string) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// movesAtOnce is a real folder that asks the protocol for concurrent moves,
// as an object store does (Capabilities.MoveConcurrency), so the
// concurrent path runs here on files it can make unmovable.
type movesAtOnce struct{ *storage.Storage }

func (m movesAtOnce) Capabilities() storage.Capabilities {
	c := m.Storage.Capabilities()
	c.MoveConcurrency = 8
	return c
}

// A delete whose files move several at once is all or nothing like one
// that moves them in turn: one file that cannot move (its neighbours moved
// or moving), or a failure after the moves, puts every moved file back.
func TestConcurrentMovesAllOrNothing(t *testing.T) {
	t.Parallel()
	const n = 60
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		fault   func(t *testing.T, f *fixture) error // set up; returns what fn returns after the moves
		wantErr bool
	}{
		{"every file moves", func(*testing.T, *fixture) error { return nil }, false},
		{"one file in the middle cannot move", func(t *testing.T, f *fixture) error {
			storagetest.Unmovable(t, filepath.Join(f.root, filepath.FromSlash(f.urls[n/2])))
			return nil
		}, true},
		{"fn fails after the moves", func(*testing.T, *fixture) error { return errBoom }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, n)
			svc := trash.New(f.store, movesAtOnce{f.files}, zap.NewNop())
			after := tt.fault(t, f)
			ctx := context.Background()
			err := svc.Run(ctx, func(tx *trash.Tx) error {
				if _, err := tx.DeleteImagenes(ctx, f.ids, repo.All, repo.MotivoImagen, "test"); err != nil {
					return err
				}
				return after
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want one: %v", err, tt.wantErr)
			}
			live := 0
			for i := range f.urls {
				if f.live(i) {
					live++
				}
			}
			wantLive, wantTrash, wantRows := 0, n, 0
			if tt.wantErr {
				wantLive, wantTrash, wantRows = n, 0, n
			}
			if live != wantLive || f.trashCount(t) != wantTrash || f.rows(t) != wantRows {
				t.Errorf("got %d live files, %d in the trash, %d rows; want %d, %d, %d",
					live, f.trashCount(t), f.rows(t), wantLive, wantTrash, wantRows)
			}
		})
	}
}

// endsAfter is a real folder whose k-th move to the trash ends the
// request's context once the move is made, as REQUEST_TIMEOUT running out
// in the middle of a delete's moves does; workers says how many files it
// asks the protocol to move at once.
type endsAfter struct {
	*storage.Storage
	workers int
	k       int64
	moves   *atomic.Int64
	end     context.CancelFunc
}

func (e endsAfter) Capabilities() storage.Capabilities {
	c := e.Storage.Capabilities()
	c.MoveConcurrency = e.workers
	return c
}

func (e endsAfter) MoveToTrash(ctx context.Context, url, name string) (bool, error) {
	moved, err := e.Storage.MoveToTrash(ctx, url, name)
	if e.moves.Add(1) == e.k {
		e.end()
	}
	return moved, err
}

// A request whose time runs out while its files move stops moving, puts
// back every file it moved and fails with the context's error (a 503), in
// turn and several at once: carried on to the COMMIT, the ended context
// would make the commit's outcome unknown and leave the files in the trash
// for the janitor.
func TestMovesStopWhenTheRequestEnds(t *testing.T) {
	t.Parallel()
	const n, k = 40, 10
	for _, workers := range []int{1, 8} {
		t.Run(fmt.Sprintf("%d at once", workers), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, n)
			ctx, end := context.WithCancel(context.Background())
			defer end()
			moves := new(atomic.Int64)
			svc := trash.New(f.store, endsAfter{Storage: f.files, workers: workers, k: k, moves: moves, end: end}, zap.NewNop())
			err := svc.Run(ctx, func(tx *trash.Tx) error {
				_, err := tx.DeleteImagenes(ctx, f.ids, repo.All, repo.MotivoImagen, "test")
				return err
			})
			if !errors.Is(err, context.Canceled) || errors.Is(err, repo.ErrCommitUnknown) {
				t.Errorf("got %v, want the context's error before any COMMIT", err)
			}
			if got := moves.Load(); got > k+int64(workers)-1 {
				t.Errorf("%d files moved, want at most %d: no move starts once the request has ended", got, k+workers-1)
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
		})
	}
}
