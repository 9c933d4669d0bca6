package janitor

import (
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics describe the janitor's last pass and count passes by outcome.
type Metrics struct {
	last     *prometheus.GaugeVec
	duration prometheus.Gauge
	finished prometheus.Gauge
	passes   *prometheus.CounterVec
	// simulations counts dry runs (the admin page's "Simular", --dry-run)
	// apart: counted as passes, each click was an "ok" pass that changed
	// nothing, and hid a janitor that no longer ran for real from the
	// alert on imagenes_janitor_passes_total{outcome="ok"}.
	simulations *prometheus.CounterVec
}

// NewMetrics registers the janitor metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		last: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "imagenes_janitor_last_pass_items",
			Help: "What the last janitor pass did, by kind (" + strings.Join(countNames(), ", ") + ").",
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
		simulations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_janitor_simulations_total",
			Help: "Janitor dry runs (the admin page's Simular, --dry-run) by outcome (ok, skipped, refused, error); not counted as passes.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.last, m.duration, m.finished, m.passes, m.simulations)
	return m
}

func (m *Metrics) observe(r Report, err error, d time.Duration) {
	if m == nil {
		return
	}
	counter := m.passes
	if r.DryRun {
		counter = m.simulations
	}
	switch {
	case r.Skipped:
		counter.WithLabelValues("skipped").Inc()
		return
	case errors.Is(err, ErrRefused):
		counter.WithLabelValues("refused").Inc()
	case err != nil:
		counter.WithLabelValues("error").Inc()
	default:
		counter.WithLabelValues("ok").Inc()
	}
	if r.DryRun {
		return
	}
	for _, c := range r.Counts() {
		m.last.WithLabelValues(c.Name).Set(float64(c.N))
	}
	m.duration.Set(d.Seconds())
	m.finished.Set(float64(time.Now().Unix()))
}
