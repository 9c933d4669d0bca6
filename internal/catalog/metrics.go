package catalog

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// Metrics are the domain metrics: what happened to images, whichever route,
// command or janitor pass did it. A nil *Metrics counts nothing.
type Metrics struct {
	deletes  *prometheus.CounterVec
	uploads  *prometheus.CounterVec
	restores *prometheus.CounterVec
	trashed  *prometheus.CounterVec
}

// NewMetrics registers the domain metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deletes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_deletes_total",
			Help: "Image deletes by outcome (trashed, file_missing, not_found, error).",
		}, []string{"outcome"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_uploads_total",
			Help: "Uploads by outcome (stored, error).",
		}, []string{"outcome"}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_restores_total",
			Help: "Trash restores by outcome (restored, not_found, conflict, error).",
		}, []string{"outcome"}),
		trashed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagenes_trashed_total",
			Help: "Images moved to the trash by product writes and janitor passes, by reason (producto_put, producto_delete, huerfana, sin_producto, colgante).",
		}, []string{"motivo"}),
	}
	reg.MustRegister(m.deletes, m.uploads, m.restores, m.trashed)
	return m
}

func (m *Metrics) deleted(e repo.Entrada, err error) {
	if m == nil {
		return
	}
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

func (m *Metrics) uploaded(err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.uploads.WithLabelValues("error").Inc()
		return
	}
	m.uploads.WithLabelValues("stored").Inc()
}

func (m *Metrics) restored(err error) {
	if m == nil {
		return
	}
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

// Trashed counts images moved to the trash other than by an image delete
// (product writes here, the janitor's passes through janitor.Deps), by
// reason.
func (m *Metrics) Trashed(es []repo.Entrada) {
	if m == nil {
		return
	}
	for _, e := range es {
		m.trashed.WithLabelValues(e.Motivo).Inc()
	}
}
