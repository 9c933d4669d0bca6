package main

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
)

// A trash-stats query that fails keeps the series (the last good numbers,
// the oldest entry's age still growing), counts and logs the failure, and
// recovers when the query works again. The failure is real: the trash
// table is renamed away under the collector.
func TestTrashCollectorKeepsSeriesOnFailure(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO imagenes_papelera (imagen_id, url, bytes, eliminado_en, motivo)
		VALUES (1, '/recursos/a.png', 10, now() - interval '1 hour', 'imagen')`); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	c := newTrashCollector(repo.New(pool), zap.New(core))
	clock := time.Now()
	c.now = func() time.Time { return clock }
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	steps := []struct {
		name       string
		sql        string // run before the scrape
		advance    time.Duration
		wantErrors float64
		wantLogs   int
		wantAgeMin float64 // imagenes_trash_oldest_age_seconds at least
		wantSeen   time.Time
	}{
		{name: "query works", wantErrors: 0, wantAgeMin: 3600, wantSeen: clock},
		{name: "query fails", sql: `ALTER TABLE imagenes_papelera RENAME TO papelera_fuera`, advance: time.Minute,
			wantErrors: 1, wantLogs: 1, wantAgeMin: 3660, wantSeen: clock},
		{name: "fails again", advance: time.Minute, wantErrors: 2, wantLogs: 2, wantAgeMin: 3720, wantSeen: clock},
		{name: "query works again", sql: `ALTER TABLE papelera_fuera RENAME TO imagenes_papelera`, advance: time.Minute,
			wantErrors: 2, wantLogs: 2, wantAgeMin: 3780, wantSeen: clock.Add(3 * time.Minute)},
	}
	for _, st := range steps {
		if st.sql != "" {
			if _, err := pool.Exec(ctx, st.sql); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		clock = clock.Add(st.advance)
		got := gather(t, reg)
		for name, want := range map[string]float64{
			"imagenes_trash_entries":                              1,
			"imagenes_trash_bytes":                                10,
			"imagenes_trash_stats_errors_total":                   st.wantErrors,
			"imagenes_trash_stats_last_success_timestamp_seconds": float64(st.wantSeen.UnixNano()) / 1e9,
		} {
			if v, ok := got[name]; !ok || v != want {
				t.Errorf("%s: got %s = %v (present %v), want %v", st.name, name, v, ok, want)
			}
		}
		if age, ok := got["imagenes_trash_oldest_age_seconds"]; !ok || age < st.wantAgeMin {
			t.Errorf("%s: got oldest age %v (present %v), want at least %v", st.name, age, ok, st.wantAgeMin)
		}
		if n := logs.FilterMessageSnippet("trash stats query failed").Len(); n != st.wantLogs {
			t.Errorf("%s: got %d failure logs, want %d", st.name, n, st.wantLogs)
		}
	}
}

// gather scrapes reg and returns each unlabelled series' value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}
