package janitor

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics describe the janitor's last pass and count passes by outcome.
type Metrics struct {
	last     *prometheus.GaugeVec
	duration prometheus.Gauge
	finished prometheus.Gauge
	passes   *prometheus.CounterVec
}

// NewMetrics registers the janitor metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		last: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "imagenes_janitor_last_pass_items",
			Help: "What the last janitor pass did, by kind (recovered, purged, orphans, unattached, dangling, repaired, adopted, trash_missing, in_flight, files_scanned, rows_scanned).",
		}, []string{"kind"}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imagenes_janitor_last_pass_duration_seconds",
			Help: "How long the last janitor pass took.",
		}),
		finished: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imagenes_janitor_last_pass_timestamp_seconds",
			Help: "When the last janitor pass ended (Unix time).",
		}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_janitor_passes_total",
			Help: "Janitor passes by outcome (ok, skipped, refused, error).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.last, m.duration, m.finished, m.passes)
	return m
}

func (m *Metrics) observe(r Report, err error, d time.Duration) {
	if m == nil {
		return
	}
	switch {
	case r.Skipped:
		m.passes.WithLabelValues("skipped").Inc()
		return
	case errors.Is(err, ErrRefused):
		m.passes.WithLabelValues("refused").Inc()
	case err != nil:
		m.passes.WithLabelValues("error").Inc()
	default:
		m.passes.WithLabelValues("ok").Inc()
	}
	if r.DryRun {
		return
	}
	for kind, n := range map[string]int{
		"recovered": r.Recovered, "purged": r.Purged, "orphans": r.Orphans, "unattached": r.Unattached,
		"dangling": r.Dangling, "repaired": r.Repaired, "adopted": r.Adopted, "trash_missing": r.TrashMissing,
		"in_flight": r.InFlight, "files_scanned": r.FilesScanned, "rows_scanned": r.RowsScanned,
	} {
		m.last.WithLabelValues(kind).Set(float64(n))
	}
	m.duration.Set(d.Seconds())
	m.finished.Set(float64(time.Now().Unix()))
}
