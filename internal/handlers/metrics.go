package handlers

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the HTTP metrics of the service. The domain's (deletes,
// uploads, restores) are counted by internal/catalog.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// series holds each (method, route, status)'s counter and histogram,
	// looked up in the vectors once instead of hashing the labels on every
	// request. Its keys are bounded as the labels are.
	series sync.Map // seriesKey → *series
}

type seriesKey struct {
	method, route string
	status        int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "imagenes_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// observe counts one request. route may alias the request's buffer: it is
// cloned before it is kept.
func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	k := seriesKey{method, route, status}
	v, ok := m.series.Load(k)
	if !ok {
		k.route = strings.Clone(route)
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(method, k.route, statusText(status)),
			latency:  m.latency.WithLabelValues(method, k.route),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.latency.Observe(d.Seconds())
}
