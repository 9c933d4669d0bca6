package janitor

import (
	"context"
	"fmt"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

// Scheduler runs passes on a cron schedule, one at a time in this process
// (a pass still running when the next is due makes that one skip), and the
// pass lock keeps it one at a time across processes.
type Scheduler struct {
	cron *cron.Cron
	log  *zap.Logger
}

// ParseSchedule checks a JANITOR_SCHEDULE value ("@every 10m", "0 3 * * *").
func ParseSchedule(spec string) error {
	_, err := cron.ParseStandard(spec)
	return err
}

// Schedule returns a Scheduler that runs j with cfg on spec once started.
// Passes run to completion even when Stop is called meanwhile: a pass cut
// off halfway is safe, but one left to finish is cheaper for the next.
func (j *Janitor) Schedule(spec string, cfg Config) (*Scheduler, error) {
	l := cronLogger{j.log}
	c := cron.New(cron.WithLogger(l), cron.WithChain(cron.Recover(l), cron.SkipIfStillRunning(l)))
	if _, err := c.AddFunc(spec, func() {
		_, _ = j.Run(context.Background(), cfg) // the pass logs its own summary
	}); err != nil {
		return nil, fmt.Errorf("janitor schedule %q: %w", spec, err)
	}
	return &Scheduler{cron: c, log: j.log}, nil
}

// Start starts the schedule in the background.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling and waits until a running pass has finished or ctx
// ends.
func (s *Scheduler) Stop(ctx context.Context) {
	done := s.cron.Stop()
	select {
	case <-done.Done():
	case <-ctx.Done():
		s.log.Warn("janitor: stopped waiting for the running pass", zap.Error(ctx.Err()))
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
