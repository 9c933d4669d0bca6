package janitor

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

// Scheduler runs passes on a cron schedule, one at a time in this process
// (a pass still running when the next is due makes that one skip), and the
// pass lock keeps it one at a time across processes.
type Scheduler struct {
	cron *cron.Cron
	log  *zap.Logger
	// cancel ends the context every scheduled pass runs on: Stop calls it
	// once its caller's grace is spent, so a pass blocked in the database
	// or the storage returns instead of outliving the process's shutdown.
	cancel context.CancelFunc
	// abortWait is how long Stop waits, after cancelling a running pass,
	// for it to return: each database and storage call it is in ends at
	// its context, so it returns at once unless a call ignores it.
	abortWait time.Duration
}

// ParseSchedule checks a JANITOR_SCHEDULE value ("@every 10m", "0 3 * * *").
func ParseSchedule(spec string) error {
	_, err := cron.ParseStandard(spec)
	return err
}

// Schedule returns a Scheduler that runs j with cfg on spec once started.
// A pass runs to completion when Stop's grace allows: a pass cut off
// halfway is safe, but one left to finish is cheaper for the next.
func (j *Janitor) Schedule(spec string, cfg Config) (*Scheduler, error) {
	l := cronLogger{j.log}
	c := cron.New(cron.WithLogger(l), cron.WithChain(cron.Recover(l), cron.SkipIfStillRunning(l)))
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := c.AddFunc(spec, func() {
		if ctx.Err() != nil {
			return // stopped: no new pass
		}
		_, _ = j.Run(ctx, cfg) // the pass logs its own summary
	}); err != nil {
		cancel()
		return nil, fmt.Errorf("janitor schedule %q: %w", spec, err)
	}
	return &Scheduler{cron: c, log: j.log, cancel: cancel, abortWait: 10 * time.Second}, nil
}

// Start starts the schedule in the background.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling and waits until a running pass has finished or ctx
// ends; then it cancels the pass's context and waits up to 10 s for it to
// return. It reports whether no pass is running any more: only
// then may the caller close what the pass uses (the storage, the pool).
func (s *Scheduler) Stop(ctx context.Context) (ended bool) {
	done := s.cron.Stop()
	select {
	case <-done.Done():
		s.cancel()
		return true
	case <-ctx.Done():
	}
	s.log.Warn("janitor: the running pass outlived the shutdown grace; cancelling it", zap.Error(ctx.Err()))
	s.cancel()
	t := time.NewTimer(s.abortWait)
	defer t.Stop()
	select {
	case <-done.Done():
		return true
	case <-t.C:
		s.log.Error("janitor: the cancelled pass has not returned; its storage and pool are left open")
		return false
	}
}

// cronLogger sends robfig/cron's logs to zap.
type cronLogger struct{ log *zap.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug("cron: "+msg, zap.Any("kv", kv))
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, zap.Error(err), zap.Any("kv", kv))
}
