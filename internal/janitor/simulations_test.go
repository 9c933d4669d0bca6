package janitor_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/trash"
)

// TestSimulationsCountedApart: a dry run (the admin page's "Simular",
// --dry-run) is counted in imagenes_janitor_simulations_total and leaves
// imagenes_janitor_passes_total and the last pass's gauges alone. Before,
// each click was an "ok" pass, which hid a janitor that stopped passing for
// real from the alert on the pass counter.
func TestSimulationsCountedApart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		dryRun               bool
		passes, simulations  float64 // {outcome="ok"} after the run
		lastPassTimestampSet bool
	}{
		{name: "a dry run", dryRun: true, passes: 0, simulations: 1},
		{name: "a real pass", dryRun: false, passes: 1, simulations: 0, lastPassTimestampSet: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.image(false) // the janitor refuses an empty table
			reg := prometheus.NewRegistry()
			j := janitor.New(janitor.Deps{Store: f.store, Files: f.files, Protocol: trash.New(f.store, f.files, zap.NewNop()),
				PassLock: repo.NewPassLocks(f.pool), Now: f.clock, Log: zap.NewNop(), Metrics: janitor.NewMetrics(reg)})
			c := cfg()
			c.DryRun = tt.dryRun
			if _, err := j.Run(context.Background(), c); err != nil {
				t.Fatalf("pass: %v", err)
			}
			if got := gaugeOrCounter(t, reg, "imagenes_janitor_passes_total", "outcome", "ok"); got != tt.passes {
				t.Errorf(`imagenes_janitor_passes_total{outcome="ok"} = %v, want %v`, got, tt.passes)
			}
			if got := gaugeOrCounter(t, reg, "imagenes_janitor_simulations_total", "outcome", "ok"); got != tt.simulations {
				t.Errorf(`imagenes_janitor_simulations_total{outcome="ok"} = %v, want %v`, got, tt.simulations)
			}
			if got := lastPassTimestamp(t, reg); (got != 0) != tt.lastPassTimestampSet {
				t.Errorf("imagenes_janitor_last_pass_timestamp_seconds = %v, want set: %v", got, tt.lastPassTimestampSet)
			}
		})
	}
}

func lastPassTimestamp(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "imagenes_janitor_last_pass_timestamp_seconds" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}
