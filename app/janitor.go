package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/imagenes/imagenes/internal/config"
	"github.com/imagenes/imagenes/internal/janitor"
)

// janitorStopGrace is how long SIGTERM waits for a running pass.
const janitorStopGrace = 5 * time.Minute

// janitorCmd runs the janitor: once (--once), or on JANITOR_SCHEDULE until
// SIGTERM, which waits for a running pass to finish.
//
// Exit codes of --once: 0 when the pass ran or another process held the
// pass lock (the report says skipped), 1 when it refused or failed.
func janitorCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("janitor", flag.ContinueOnError)
	once := fs.Bool("once", false, "run one pass and exit")
	dry := fs.Bool("dry-run", false, "only report what a pass would do")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	repair := fs.Bool("repair-dangling", false, "trash rows whose file is missing")
	force := fs.Bool("force", false, "move orphans beyond JANITOR_MAX_ORPHANS")
	verbose := fs.Bool("verbose", false, "list every file and row acted on (a dry run always does, except with --json)")
	cpuProfile := fs.String("cpuprofile", "", "with --once: write the pass's CPU profile (pprof) to this file")
	d, cleanup, err := start(ctx, fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg, log := d.cfg, d.log

	j := d.janitor(log)
	jc := janitorConfig(cfg)
	jc.DryRun, jc.RepairDangling, jc.Force = *dry, *repair, *force
	// A dry run is read before enabling the schedule, so it names every
	// file and row it means; --json keeps its one object small unless asked.
	jc.List = *verbose || (*dry && !*asJSON)

	if *once {
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			jc.Progress = stderr
		}
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		rep, err := j.Run(ctx, jc)
		if perr := stopProfile(); perr != nil && err == nil {
			err = perr
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			if jerr := enc.Encode(rep); jerr != nil {
				return jerr
			}
		} else {
			fmt.Fprint(stdout, listing(rep))
			fmt.Fprintln(stdout, summary(rep))
		}
		return err
	}

	if *dry || *asJSON || *cpuProfile != "" {
		return fmt.Errorf("%w: --dry-run, --json and --cpuprofile need --once", errUsage)
	}
	if cfg.JanitorMetricsAddr != "" {
		srv := &http.Server{Addr: cfg.JanitorMetricsAddr, ReadHeaderTimeout: 5 * time.Second,
			Handler: promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{})}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("janitor metrics", zap.Error(err))
			}
		}()
		defer srv.Close()
	}
	sched, err := j.Schedule(cfg.JanitorSchedule, jc)
	if err != nil {
		return err
	}
	sched.Start()
	log.Info("janitor running", zap.String("schedule", cfg.JanitorSchedule))
	<-ctx.Done()
	log.Info("janitor stopping; waiting for a running pass")
	sctx, cancel := context.WithTimeout(context.Background(), janitorStopGrace)
	defer cancel()
	d.passRunning = !sched.Stop(sctx)
	return nil
}

// startCPUProfile starts a CPU profile written to path (none when path is
// empty) and returns what stops and writes it: scripts/janitor-measure.sh
// uses it to say where a pass's time goes.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// janitorConfig is the janitor's part of the configuration.
func janitorConfig(cfg config.Config) janitor.Config {
	return janitor.Config{
		Retention:     cfg.TrashRetention,
		OrphanGrace:   cfg.JanitorOrphanGrace,
		UnattachedTTL: cfg.JanitorUnattachedTTL,
		MaxOrphans:    cfg.JanitorMaxOrphans,
		BatchSize:     cfg.JanitorBatchSize,
	}
}

// summary is the report for a person.
func summary(r janitor.Report) string {
	if r.Skipped {
		return "janitor: skipped, another process holds the pass lock"
	}
	var counts []string
	for _, c := range r.Counts() {
		counts = append(counts, fmt.Sprintf("%s %d", c.Label(), c.N))
	}
	s := fmt.Sprintf("janitor: %s in %d ms", strings.Join(counts, ", "), r.DurationMS)
	if r.DryRun {
		s += " (dry run: nothing changed)"
	}
	if r.Refused != "" {
		s += "\nrefused: " + r.Refused
	}
	return s
}

// itemHeadings say, per kind of item, what a pass does to it.
var itemHeadings = map[string]string{
	"staging":    "staging: upload leftovers older than JANITOR_ORPHAN_GRACE, removed",
	"recovered":  "recover: files of deletes that never committed put back, or lost renames moved into the trash",
	"adopted":    "recover: trash files without an entry given one",
	"purged":     "purge: trash entries past TRASH_RETENTION removed for good",
	"orphans":    "orphans: product images without a row, to the trash",
	"unattached": "unattached: images no product took within JANITOR_UNATTACHED_TTL, to the trash",
	"dangling":   "dangling: rows whose file is missing (reported)",
	"repaired":   "repaired: dangling rows trashed (--repair-dangling)",
	"thumbnails": "thumbnails: cached thumbnails whose original is gone, removed",
}

// listing is the report's items for a person, grouped by step, one line
// each; empty when the pass did not list.
func listing(r janitor.Report) string {
	var b strings.Builder
	for _, kind := range janitor.ItemKinds() {
		items := r.Items[kind]
		if len(items) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s (%d):\n", itemHeadings[kind], len(items))
		for _, it := range items {
			fmt.Fprintf(&b, "  %s", it.URL)
			if it.ImagenID != 0 {
				fmt.Fprintf(&b, "  imagen %d", it.ImagenID)
			}
			if it.PapeleraID != 0 {
				fmt.Fprintf(&b, "  papelera %d", it.PapeleraID)
			}
			if it.TrashName != "" {
				fmt.Fprintf(&b, "  trash %s", it.TrashName)
			}
			if it.Bytes != 0 {
				fmt.Fprintf(&b, "  %d bytes", it.Bytes)
			}
			b.WriteByte('\n')
		}
	}
	if r.ItemsOmitted > 0 {
		fmt.Fprintf(&b, "(%d more not listed)\n", r.ItemsOmitted)
	}
	return b.String()
}
