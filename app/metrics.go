package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

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
// query with a short deadline; a failed query exports nothing rather than
// stale numbers.
type trashCollector struct {
	store                  *repo.Store
	entries, bytes, oldest *prometheus.Desc
}

func newTrashCollector(store *repo.Store) *trashCollector {
	return &trashCollector{store: store,
		entries: prometheus.NewDesc("imagenes_trash_entries", "Trash entries (restorable images).", nil, nil),
		bytes:   prometheus.NewDesc("imagenes_trash_bytes", "Bytes of the files in the trash.", nil, nil),
		oldest:  prometheus.NewDesc("imagenes_trash_oldest_age_seconds", "Age of the oldest trash entry (0 when empty); above TRASH_RETENTION means the janitor is not purging.", nil, nil),
	}
}

func (c *trashCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.bytes
	ch <- c.oldest
}

func (c *trashCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.store.GetTrashStats(ctx)
	if err != nil {
		return
	}
	age := 0.0
	if st.Oldest != nil {
		age = time.Since(*st.Oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
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
