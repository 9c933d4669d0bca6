package janitor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// vanishingTrash is the fixture's real storage where a trash file is gone
// when the janitor moves it back, as when a committed transaction moved it
// since it was listed.
type vanishingTrash struct{ storage.Backend }

func (v vanishingTrash) MoveFromTrash(ctx context.Context, name, url string) error {
	if err := v.Backend.RemoveTrash(ctx, name); err != nil {
		return err
	}
	return v.Backend.MoveFromTrash(ctx, name, url)
}

// failingThumbs is the fixture's real storage whose removal of a cached
// thumbnail fails as a store that cannot answer does.
type failingThumbs struct{ storage.Backend }

func (f failingThumbs) RemoveThumb(ctx context.Context, key string) error {
	return fmt.Errorf("remove %s: %w", key, storage.ErrUnavailable)
}

// TestReportCountsOnlyWhatCommitted: a transaction of the pass that does
// not commit — its move found the file gone, or its COMMIT was refused —
// adds nothing to the report's counts or items and writes no log line
// naming its move. Before, each step counted, listed and logged its move
// before the transaction's end, so a pass could report (and log) a recovery
// or an adoption that was undone.
func TestReportCountsOnlyWhatCommitted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T, f *fixture) storage.Backend
		wantErr bool
		claims  []string // log messages that must not appear
	}{
		{name: "recover: the file is gone when put back", setup: func(t *testing.T, f *fixture) storage.Backend {
			_, url := f.image(false)
			f.kit.Move(t, key(url), trashKey(storage.TrashName(f.lostEntryID(), time.Now(), url)))
			return vanishingTrash{f.files}
		}, claims: []string{"janitor: putting back the file of a delete that never committed"}},
		{name: "adopt: the COMMIT is refused", setup: func(t *testing.T, f *fixture) storage.Backend {
			url := storage.NewImageURL("png")
			f.kit.Put(t, trashKey(storage.TrashName(f.lostEntryID(), time.Now(), url)), []byte("x"), 0)
			// A deferred constraint: the entry's INSERT passes, its COMMIT fails.
			f.exec(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$`)
			f.exec(`CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON imagenes_papelera DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()`)
			return f.files
		}, wantErr: true, claims: []string{"janitor: trash file without an entry gets one"}},
		{name: "thumbnails: the removal fails", setup: func(t *testing.T, f *fixture) storage.Backend {
			f.kit.Put(t, ".miniaturas/64/imagenes/productos/zz/gone.png.png", []byte("thumb"), 0)
			return failingThumbs{f.files}
		}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			files := tt.setup(t, f)
			core, logs := observer.New(zapcore.InfoLevel)
			j := janitor.New(janitor.Deps{Store: f.store, Files: files, Protocol: trash.New(f.store, files, zap.NewNop()),
				PassLock: repo.NewPassLocks(f.pool), Now: f.clock, Log: zap.New(core), Metrics: janitor.NewMetrics(prometheus.NewRegistry())})
			c := cfg()
			c.List = true
			rep, err := j.Run(context.Background(), c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("pass: %v, want an error %v", err, tt.wantErr)
			}
			if rep.Recovered != 0 || rep.Adopted != 0 || rep.Thumbnails != 0 || len(rep.Items["recovered"]) != 0 || len(rep.Items["adopted"]) != 0 || len(rep.Items["thumbnails"]) != 0 {
				t.Errorf("recovered %d, adopted %d, thumbnails %d, items %v; want nothing of what was undone or failed", rep.Recovered, rep.Adopted, rep.Thumbnails, rep.Items)
			}
			for _, e := range logs.All() {
				for _, claim := range tt.claims {
					if e.Message == claim {
						t.Errorf("the log says %q of a transaction that did not commit", claim)
					}
				}
			}
		})
	}
}
