package janitor_test

import (
	"context"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// events records, in order, what the scheduled pass, Stop and the storage
// did.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, s)
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

// heldWalk is the fixture's real storage whose first walk of the trash
// blocks (a stalled store) until its context ends or, for a call that
// ignores its context, until release; its Close only records when it came.
type heldWalk struct {
	storage.Backend
	entered, release chan struct{}
	ignoresCtx       bool
	once             sync.Once
	ev               *events
}

func (h *heldWalk) WalkTrash(ctx context.Context, fn func(name string, info fs.FileInfo) error) error {
	var err error
	h.once.Do(func() {
		close(h.entered)
		if h.ignoresCtx {
			<-h.release
			h.ev.add("storage call returned")
			return
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
			h.ev.add("storage call returned: " + err.Error())
		case <-h.release:
			h.ev.add("storage call returned")
		}
	})
	if err != nil {
		return err
	}
	return h.Backend.WalkTrash(ctx, fn)
}

func (h *heldWalk) Close() error {
	h.ev.add("storage closed")
	return nil // the kit closes the real one
}

// TestStopCancelsTheRunningPass: once Stop's grace is spent, the scheduled
// pass's context is cancelled, Stop returns once the pass has, and only then
// is the storage closed (as serve and `imagenes janitor` do); a pass that
// does not return leaves the storage open. Before, passes ran on
// context.Background and Stop gave up waiting with the pass still running,
// so serve closed the storage (and the pool) under it.
func TestStopCancelsTheRunningPass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		inDB      bool // blocked in the database instead of the storage
		ignores   bool // the storage call ignores the cancel until Stop gave up
		want      []string
		wantEnded bool
	}{
		{name: "blocked in storage, returning at the cancel",
			want:      []string{"storage call returned: context canceled", "stop returned: pass ended", "storage closed"},
			wantEnded: true},
		{name: "blocked in the database", inDB: true,
			want:      []string{"storage call returned", "stop returned: pass ended", "storage closed"},
			wantEnded: true},
		{name: "blocked in storage past the wait for it", ignores: true,
			want: []string{"stop returned: pass still running", "storage call returned"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ev := &events{}
			files := &heldWalk{Backend: f.files, entered: make(chan struct{}), release: make(chan struct{}), ignoresCtx: tt.ignores, ev: ev}
			if tt.inDB {
				close(files.release)
				tx, err := f.pool.Begin(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(context.Background()) //nolint:errcheck // ends the lock
				if _, err := tx.Exec(context.Background(), `LOCK TABLE imagenes_papelera IN ACCESS EXCLUSIVE MODE`); err != nil {
					t.Fatal(err)
				}
			}
			reg := prometheus.NewRegistry()
			j := janitor.New(janitor.Deps{Store: f.store, Files: files, Protocol: trash.New(f.store, files, zap.NewNop()),
				PassLock: repo.NewPassLocks(f.pool), Now: f.clock, Log: zap.NewNop(), Metrics: janitor.NewMetrics(reg)})
			s, err := j.Schedule("@every 1s", cfg())
			if err != nil {
				t.Fatal(err)
			}
			janitor.SetAbortWait(s, 10*time.Second)
			if tt.ignores {
				janitor.SetAbortWait(s, time.Millisecond)
			}
			s.Start()
			waitFor(t, "the pass to walk the trash", func() bool {
				select {
				case <-files.entered:
					return true
				default:
					return false
				}
			})
			if tt.inDB {
				waitFor(t, "the pass to wait for the table lock", func() bool {
					return f.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0
				})
			}
			spent, cancel := context.WithCancel(context.Background())
			cancel() // the shutdown's grace is spent
			ended := s.Stop(spent)
			if ended {
				ev.add("stop returned: pass ended")
				files.Close()
			} else {
				ev.add("stop returned: pass still running")
			}
			if tt.ignores {
				close(files.release)
			}
			// The pass ends (now, for the one Stop gave up on) with the
			// error of its cancelled context.
			waitFor(t, "the pass to end", func() bool {
				return gaugeOrCounter(t, reg, "imagenes_janitor_passes_total", "outcome", "error") == 1
			})
			if ended != tt.wantEnded {
				t.Errorf("Stop reported ended %v, want %v", ended, tt.wantEnded)
			}
			if diff := cmp.Diff(tt.want, ev.get()); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}

// waitFor polls cond until it holds, failing t after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 60 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
