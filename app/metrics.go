package main

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// poolCollector exports pgxpool's statistics at scrape time.
type poolCollector struct {
	pool                                 *pgxpool.Pool
	total, idle, acquired, max, acquires *prometheus.Desc
	waits, waitSeconds                   *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("imagenes_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{pool: pool,
		total:       d("conns", "Connections open in the pool."),
		idle:        d("idle_conns", "Idle connections."),
		acquired:    d("acquired_conns", "Connections in use by a request or the janitor."),
		max:         d("max_conns", "Pool size (DB_MAX_CONNS)."),
		acquires:    d("acquires_total", "Connections handed out."),
		waits:       d("empty_acquires_total", "Acquires that had to wait for a free connection."),
		waitSeconds: d("empty_acquire_wait_seconds_total", "Time spent waiting for a free connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquires, c.waits, c.waitSeconds} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
}

// trashCollector exports the trash's size and age at scrape time, from one
// query with a short deadline. A failed query is never silent: it is logged,
// counted (imagenes_trash_stats_errors_total) and the last good numbers are
// exported again (the oldest entry's age still grows with the clock), so an
// alert on the age keeps its series and a dashboard sees the failure
// beside it; imagenes_trash_stats_last_success_timestamp_seconds says how
// old the numbers are.
type trashCollector struct {
	store *repo.Store
	log   *zap.Logger
	now   func() time.Time

	entries, bytes, oldest, errorsTotal, lastSuccess *prometheus.Desc

	mu     sync.Mutex // scrapes may run concurrently
	last   repo.TrashStats
	lastAt time.Time // zero: no query has succeeded yet
	errs   uint64
}

func newTrashCollector(store *repo.Store, log *zap.Logger) *trashCollector {
	return &trashCollector{store: store, log: log, now: time.Now,
		entries:     prometheus.NewDesc("imagenes_trash_entries", "Trash entries (restorable images).", nil, nil),
		bytes:       prometheus.NewDesc("imagenes_trash_bytes", "Bytes of the files in the trash.", nil, nil),
		oldest:      prometheus.NewDesc("imagenes_trash_oldest_age_seconds", "Age of the oldest trash entry (0 when empty); above TRASH_RETENTION means the janitor is not purging.", nil, nil),
		errorsTotal: prometheus.NewDesc("imagenes_trash_stats_errors_total", "Scrapes whose trash statistics query failed (the last good numbers were exported).", nil, nil),
		lastSuccess: prometheus.NewDesc("imagenes_trash_stats_last_success_timestamp_seconds", "When the trash statistics were last read (0: never).", nil, nil),
	}
}

func (c *trashCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.entries, c.bytes, c.oldest, c.errorsTotal, c.lastSuccess} {
		ch <- d
	}
}

func (c *trashCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.store.GetTrashStats(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if err != nil {
		c.errs++
		c.log.Warn("trash stats query failed; exporting the last good numbers", zap.Error(err), zap.Uint64("failures", c.errs))
	} else {
		c.last, c.lastAt = st, now
	}
	ch <- prometheus.MustNewConstMetric(c.errorsTotal, prometheus.CounterValue, float64(c.errs))
	lastAt := 0.0
	if !c.lastAt.IsZero() {
		lastAt = float64(c.lastAt.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, lastAt)
	if c.lastAt.IsZero() {
		return // nothing known yet: no numbers rather than zeros that look true
	}
	age := 0.0
	if c.last.Oldest != nil {
		age = now.Sub(*c.last.Oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(c.last.Entries))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(c.last.Bytes))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}

// storageCollector exports the background fsyncs of the trash folder that
// failed (a rename that may not survive a power cut until the janitor
// reconciles it).
type storageCollector struct {
	files      *storage.Storage
	syncErrors *prometheus.Desc
}

func newStorageCollector(files *storage.Storage) *storageCollector {
	return &storageCollector{files: files,
		syncErrors: prometheus.NewDesc("imagenes_storage_fsync_errors_total", "Background fsyncs of the trash folder that failed (see the log's \"group fsync\" errors).", nil, nil),
	}
}

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.syncErrors }

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	n, _ := c.files.SyncErrors()
	ch <- prometheus.MustNewConstMetric(c.syncErrors, prometheus.CounterValue, float64(n))
}
