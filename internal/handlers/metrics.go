package handlers

import (
	"errors"
	"time"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the HTTP metrics of the service.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	deletes  *prometheus.CounterVec
	restores *prometheus.CounterVec
	trash    *prometheus.CounterVec
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
		deletes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_deletes_total",
			Help: "Image deletes by outcome (trashed, file_missing, not_found, error).",
		}, []string{"outcome"}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_restores_total",
			Help: "Trash restores by outcome (restored, not_found, conflict, error).",
		}, []string{"outcome"}),
		trash: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_trashed_total",
			Help: "Images moved to the trash by product writes, by reason (producto_put, producto_delete).",
		}, []string{"motivo"}),
	}
	reg.MustRegister(m.requests, m.latency, m.deletes, m.restores, m.trash)
	return m
}

func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, statusText(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

func (m *Metrics) deleted(e repo.Entrada, err error) {
	switch {
	case errors.Is(err, repo.ErrNotFound):
		m.deletes.WithLabelValues("not_found").Inc()
	case err != nil:
		m.deletes.WithLabelValues("error").Inc()
	case e.SinArchivo && storage.IsLocal(e.URL):
		m.deletes.WithLabelValues("file_missing").Inc()
	default:
		m.deletes.WithLabelValues("trashed").Inc()
	}
}

func (m *Metrics) restored(err error) {
	switch {
	case err == nil:
		m.restores.WithLabelValues("restored").Inc()
	case errors.Is(err, repo.ErrNotFound):
		m.restores.WithLabelValues("not_found").Inc()
	case errors.Is(err, repo.ErrConflict):
		m.restores.WithLabelValues("conflict").Inc()
	default:
		m.restores.WithLabelValues("error").Inc()
	}
}

// trashed counts images moved to the trash by product writes, by reason.
func (m *Metrics) trashed(es []repo.Entrada) {
	for _, e := range es {
		m.trash.WithLabelValues(e.Motivo).Inc()
	}
}
