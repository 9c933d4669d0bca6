package janitor_test

import (
	"context"
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
			if rep.Recovered != 0 || rep.Adopted != 0 || len(rep.Items["recovered"]) != 0 || len(rep.Items["adopted"]) != 0 {
				t.Errorf("recovered %d, adopted %d, items %v; want nothing of the undone transaction", rep.Recovered, rep.Adopted, rep.Items)
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
