// Package janitor reconciles the storage folder with producto_imagenes
// (SPEC §6): it puts back the files of deletes that never committed, purges
// the trash after retention, moves orphan files and stale unattached images
// to the trash, and reports (or repairs) rows whose file is missing.
//
// It fails closed: the catastrophic failure of such a tool is a false
// positive, so any database error stops the pass, a folder without the
// storage marker or a table that is empty next to a full folder is refused,
// and more orphans than JANITOR_MAX_ORPHANS need --force. Every move goes
// through internal/trash, the same protocol code the handlers use, and
// where a lock can tell "in flight" from "aborted" the janitor asks the lock
// instead of guessing from timestamps.
package janitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// Refusals: the pass stops and says why. Each wraps ErrRefused.
var (
	ErrRefused        = errors.New("janitor refused")
	ErrNoMarker       = fmt.Errorf("%w: the storage folder has no marker file %s (an unmounted volume looks empty); start `imagenes serve` once on it, or check the mount", ErrRefused, storage.MarkerName)
	ErrEmptyTable     = fmt.Errorf("%w: producto_imagenes is empty but the storage folder holds files; is this the right database? no orphan moved", ErrRefused)
	ErrTooManyOrphans = fmt.Errorf("%w: more orphans than JANITOR_MAX_ORPHANS; no orphan moved (check the database and STORAGE_DIR, then rerun with --force)", ErrRefused)
)

// Config is what a pass needs to know.
type Config struct {
	Retention      time.Duration // trash older than this is purged
	OrphanGrace    time.Duration // live files younger than this are never orphans
	UnattachedTTL  time.Duration // 0: unattached images are never trashed
	MaxOrphans     int
	BatchSize      int
	DryRun         bool // count, change nothing
	Force          bool // move orphans beyond MaxOrphans
	RepairDangling bool // trash rows whose file is missing
	// hook, when not nil, is called at the named points between the
	// janitor's reads and its acts, so tests can commit a racing transaction
	// there (set by export_test.go only).
	hook func(point, name string)
	// List fills Report.Items with every file and row acted on (or, in a
	// dry run, that would be).
	List bool
	// Progress, when not nil, receives a progress bar (a terminal).
	Progress io.Writer
}

// Report is what a pass did (or, in a dry run, would do). The first eight
// fields are SPEC §6's.
type Report struct {
	Recovered  int   `json:"recovered"`  // trash files put back (aborted deletes) or moved in (lost renames)
	Purged     int   `json:"purged"`     // entries removed for good
	Orphans    int   `json:"orphans"`    // live files without a row moved to the trash
	Unattached int   `json:"unattached"` // images without a product moved to the trash
	Dangling   int   `json:"dangling"`   // rows whose file is missing (found)
	Repaired   int   `json:"repaired"`   // of those, trashed by --repair-dangling
	DryRun     bool  `json:"dry_run"`
	DurationMS int64 `json:"duration_ms"`

	Adopted      int    `json:"adopted"`       // trash files without an entry given one
	TrashMissing int    `json:"trash_missing"` // entries whose file is nowhere
	PurgeKept    int    `json:"purge_kept"`    // expired entries kept: their file's removal failed
	InFlight     int    `json:"in_flight"`     // left alone: a transaction holds them
	Staging      int    `json:"staging"`       // upload leftovers removed from .tmp
	Thumbnails   int    `json:"thumbnails"`    // cached thumbnails whose original is gone, removed
	FilesScanned int    `json:"files_scanned"` // live and trash files looked at
	RowsScanned  int    `json:"rows_scanned"`  // image rows and trash entries looked at
	Skipped      bool   `json:"skipped"`       // another process holds the pass lock
	Refused      string `json:"refused,omitempty"`
	// Items, when Config.List, names what the counts count, by count name
	// ("orphans", "unattached", …); ItemsOmitted is how many did not fit.
	Items        map[string][]Item `json:"items,omitempty"`
	ItemsOmitted int               `json:"items_omitted,omitempty"`
	Error        string            `json:"error,omitempty"`
}

// PassLocker takes the pass lock: one pass at a time across every process
// (repo.PassLocks, a PostgreSQL advisory lock held on one connection).
type PassLocker interface {
	TryLock(ctx context.Context) (lock *repo.PassLock, ok bool, err error)
}

// Deps is what a janitor works with, handed over by app.
type Deps struct {
	Store    *repo.Store     // reads outside any transaction
	Files    storage.Backend // the folder or bucket it walks
	Protocol *trash.Service  // every change of rows and files
	PassLock PassLocker
	Now      func() time.Time // the clock ages are measured by; nil is time.Now
	Log      *zap.Logger
	Metrics  *Metrics // the janitor's own; may be nil
	// Trashed counts the images a pass moves to the trash with the
	// domain's metrics (catalog.Metrics), like any other delete; may be nil.
	Trashed TrashCounter
}

// TrashCounter counts trash entries by reason (catalog.Metrics).
type TrashCounter interface {
	Trashed(es []repo.Entrada)
}

// Janitor runs passes.
type Janitor struct {
	store    *repo.Store
	files    storage.Backend
	proto    *trash.Service
	passLock PassLocker
	now      func() time.Time
	log      *zap.Logger
	metrics  *Metrics
	trashed  TrashCounter
}

// New returns a janitor over d.
func New(d Deps) *Janitor {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Janitor{store: d.Store, files: d.Files, proto: d.Protocol, passLock: d.PassLock,
		now: now, log: d.Log, metrics: d.Metrics, trashed: d.Trashed}
}

// pass is one run's state.
type pass struct {
	*Janitor
	cfg  Config
	rep  *Report
	lock *repo.PassLock
	now  time.Time
	bar  *progress
	// dryMoved holds, in a dry run only, the urls whose files recover would
	// have moved, so that the later steps count as if it had.
	dryMoved map[string]bool
	listed   int // items in rep.Items
	// notes, inside inTx, holds the log lines of its transaction.
	notes *txNotes
}

// Run makes one pass. A pass that another process holds the lock for
// returns a Report with Skipped and no error. A refusal returns an error
// wrapping ErrRefused, with the counts of what was done before it.
func (j *Janitor) Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.BatchSize < 1 {
		cfg.BatchSize = 1000
	}
	start := j.now()
	rep := Report{DryRun: cfg.DryRun}
	lock, ok, err := j.passLock.TryLock(ctx)
	if err != nil {
		rep.Error = err.Error()
		j.metrics.observe(rep, err, 0)
		return rep, err
	}
	if !ok {
		rep.Skipped = true
		j.log.Info("janitor pass skipped: another process holds the pass lock")
		j.metrics.observe(rep, nil, 0)
		return rep, nil
	}
	defer lock.Release(context.WithoutCancel(ctx))
	// Wall time the lock was taken: with the log line's own time (written
	// before the release) it is the span this process held it, which the
	// replicas test compares across processes.
	lockedAt := time.Now()

	p := &pass{Janitor: j, cfg: cfg, rep: &rep, lock: lock, now: start, bar: newProgress(cfg.Progress), dryMoved: map[string]bool{}}
	err = p.run(ctx)
	p.bar.done()
	rep.DurationMS = j.now().Sub(start).Milliseconds()
	switch {
	case errors.Is(err, ErrRefused):
		rep.Refused = err.Error()
	case err != nil:
		rep.Error = err.Error()
	}
	var fields []zap.Field
	for _, c := range rep.Counts() {
		fields = append(fields, zap.Int(c.Name, c.N))
	}
	fields = append(fields, zap.Bool("dry_run", rep.DryRun), zap.Int64("duration_ms", rep.DurationMS), zap.Time("locked_at", lockedAt))
	if err != nil {
		j.log.Error("janitor pass stopped", append(fields, zap.Error(err))...)
	} else {
		j.log.Info("janitor pass", fields...)
	}
	j.metrics.observe(rep, err, j.now().Sub(start))
	if !cfg.DryRun {
		j.save(ctx, rep)
	}
	return rep, err
}

// save stores a real pass's report for the admin page (GET
// /api/v1/admin/conserje), without its item listing. A report that cannot
// be stored is logged, not an error of the pass: the pass's work is done.
func (j *Janitor) save(ctx context.Context, rep Report) {
	rep.Items, rep.ItemsOmitted = nil, 0
	b, err := json.Marshal(rep)
	if err == nil {
		err = j.store.SaveInforme(context.WithoutCancel(ctx), j.now(), b)
	}
	if err != nil {
		j.log.Warn("janitor report not stored", zap.Error(err))
	}
}

func (p *pass) run(ctx context.Context) error {
	ok, err := p.files.MarkerExists(ctx)
	if err != nil {
		return fmt.Errorf("check storage marker: %w", err)
	}
	if !ok {
		return ErrNoMarker
	}
	// Staged uploads older than the grace period belong to requests that
	// died; a live upload is never that old. A dry run counts the same
	// selection without removing it.
	stale, err := p.files.CleanStaging(ctx, p.cfg.OrphanGrace, p.now, p.cfg.DryRun)
	p.rep.Staging += len(stale)
	for _, name := range stale {
		p.moved(kindStaging, Item{URL: stagingFolder + name})
	}
	if err != nil {
		return fmt.Errorf("clean staging: %w", err)
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"recover", p.recoverTrash},
		{"purge", p.entries},
		// Before the merge of files and rows, which settles dangling rows
		// too: a row it trashes is neither an orphan's nor dangling, as
		// when the dangling step ran after it.
		{"unattached", p.unattached},
		{"orphans and dangling", p.orphans},
		{"thumbnails", p.thumbnails},
	}
	for _, s := range steps {
		if err := p.lock.Check(ctx); err != nil {
			return err
		}
		p.bar.step(s.name)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// deletedBy is who the trash entries the janitor writes say deleted them.
const deletedBy = "janitor"

// count tells the domain's metrics about entries a pass wrote.
func (p *pass) count(es []repo.Entrada) {
	if p.trashed != nil {
		p.trashed.Trashed(es)
	}
}

// at calls the test hook, if any, at a named point of the pass.
func (p *pass) at(point, name string) {
	if p.cfg.hook != nil {
		p.cfg.hook(point, name)
	}
}
