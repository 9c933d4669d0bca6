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
	for _, c := range r.Counts() {
		m.last.WithLabelValues(c.Name).Set(float64(c.N))
	}
	m.duration.Set(d.Seconds())
	m.finished.Set(float64(time.Now().Unix()))
}
