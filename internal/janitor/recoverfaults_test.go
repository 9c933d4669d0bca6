package janitor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
	"github.com/imagenes/imagenes/internal/trash"
)

// unreadableLive is the fixture's real storage, whose LiveExists of one url
// fails as a store that cannot answer does (a timeout, a reset connection):
// the answer says nothing about the file.
type unreadableLive struct {
	storage.Backend
	url string
}

func (b unreadableLive) LiveExists(ctx context.Context, url string) (bool, error) {
	if url == b.url {
		return false, fmt.Errorf("stat %s: %w", url, storage.ErrUnavailable)
	}
	return b.Backend.LiveExists(ctx, url)
}

// TestRecoverNeverAdoptsWhatARowMayHold: a trash file without an entry whose
// row exists is that row's until shown otherwise. A storage error while
// looking stops the pass (a failed pass, nothing changed), and a row held by
// another transaction leaves the file for a later pass — never adopted under
// a new entry, which would leave the row without its file and purge the file
// after retention. Before, the recover step went on past the error and
// adopted the file.
func TestRecoverNeverAdoptsWhatARowMayHold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		disk bool // a fault only a folder can have
		// setup leaves a row whose file is in the trash under an entry that
		// never committed, and returns the storage the pass runs on.
		setup    func(t *testing.T, f *fixture) storage.Backend
		wantErr  error // nil: the pass ends without error
		inFlight int
	}{
		{name: "storage error on the row's live file", setup: func(t *testing.T, f *fixture) storage.Backend {
			_, url := f.image(false)
			f.kit.Move(t, key(url), trashKey(storage.TrashName(f.lostEntryID(), time.Now(), url)))
			return unreadableLive{Backend: f.files, url: url}
		}, wantErr: storage.ErrUnavailable},
		{name: "the row's live folder is a link out of the storage (fails for root too)", disk: true, setup: func(t *testing.T, f *fixture) storage.Backend {
			_, url := f.image(false)
			f.kit.Move(t, key(url), trashKey(storage.TrashName(f.lostEntryID(), time.Now(), url)))
			dir := filepath.Dir(f.live(url))
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(t.TempDir(), dir); err != nil {
				t.Fatal(err)
			}
			return f.files
		}, wantErr: storage.ErrUnsafePath},
		{name: "a row of the same name is held by a transaction", setup: func(t *testing.T, f *fixture) storage.Backend {
			name := path.Base(storage.NewImageURL("png"))
			held, heldURL := f.imageAt(storage.ProductPrefix+"aa/"+name, false)
			f.imageAt(storage.ProductPrefix+"bb/"+name, false) // live, another file
			f.kit.Move(t, key(heldURL), trashKey(storage.TrashName(f.lostEntryID(), time.Now(), heldURL)))
			tx, err := f.pool.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
			if _, err := tx.Exec(context.Background(), `SELECT 1 FROM producto_imagenes WHERE id = $1 FOR UPDATE`, held); err != nil {
				t.Fatal(err)
			}
			return f.files
		}, inFlight: 2}, // the file, and the held row in the dangling check
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.disk && f.kit.Kind != storagetest.Disk {
				t.Skip("a folder's fault")
			}
			files := tt.setup(t, f)
			before := f.state()
			reg := prometheus.NewRegistry()
			j := janitor.New(janitor.Deps{Store: f.store, Files: files, Protocol: trash.New(f.store, files, zap.NewNop()),
				PassLock: repo.NewPassLocks(f.pool), Now: f.clock, Log: zap.NewNop(), Metrics: janitor.NewMetrics(reg)})
			rep, err := j.Run(context.Background(), cfg())
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("pass: %v", err)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("pass ended without error, want it stopped by the storage error (report %+v)", rep)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("pass: %v, want %v", err, tt.wantErr)
			}
			if rep.Adopted != 0 || rep.Recovered != 0 || rep.InFlight != tt.inFlight {
				t.Errorf("adopted %d, recovered %d, in flight %d; want 0, 0, %d", rep.Adopted, rep.Recovered, rep.InFlight, tt.inFlight)
			}
			if after := f.state(); after != before {
				t.Errorf("state changed:\n%s\n%s", before, after)
			}
			outcome := "ok"
			if tt.wantErr != nil {
				outcome = "error"
			}
			if got := gaugeOrCounter(t, reg, "imagenes_janitor_passes_total", "outcome", outcome); got != 1 {
				t.Errorf("imagenes_janitor_passes_total{outcome=%q} = %v, want 1", outcome, got)
			}
		})
	}
}

// gaugeOrCounter reads metric name{label=value} from reg.
func gaugeOrCounter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}
