package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/repo"
)

// counter reads one series of the fixture's registry (0 when absent).
func (f *fixture) counter(t *testing.T, name, label, value string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// The domain metrics are counted by the use cases themselves, so every
// caller (either API family, a command) is counted the same way.
func TestDomainMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	ctx := context.Background()
	var entry repo.Entrada
	var pid int32
	nombre, precio := "Jabón", "3.00"
	steps := []struct {
		name   string
		do     func() error
		metric string
		label  string
		value  string
		want   float64
	}{
		{"upload", func() error {
			st, err := f.files.Stage(t.Context(), bytes.NewReader(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 32)...)), 1<<20, []string{"image/png"})
			if err != nil {
				return err
			}
			_, err = f.svc.Upload(ctx, st, repo.NuevaImagen{Orden: 1})
			return err
		}, "imagenes_uploads_total", "outcome", "stored", 1},
		{"delete", func() (err error) {
			entry, err = f.svc.DeleteImagen(ctx, f.ids[0], repo.All, "test")
			return err
		}, "imagenes_deletes_total", "outcome", "trashed", 1},
		{"delete again", func() error {
			_, err := f.svc.DeleteImagen(ctx, f.ids[0], repo.All, "test")
			return expect(err, repo.ErrNotFound)
		}, "imagenes_deletes_total", "outcome", "not_found", 1},
		{"restore", func() error {
			_, err := f.svc.Restore(ctx, entry.ID)
			return err
		}, "imagenes_restores_total", "outcome", "restored", 1},
		{"restore again", func() error {
			_, err := f.svc.Restore(ctx, entry.ID)
			return expect(err, repo.ErrNotFound)
		}, "imagenes_restores_total", "outcome", "not_found", 1},
		{"product drops an image", func() error {
			saved, err := f.svc.CreateProducto(ctx, repo.ProductoCampos{Nombre: &nombre, Precio: &precio},
				[]catalog.ImagenRef{{URL: f.urls[0], Orden: 1}, {URL: f.urls[1], Orden: 2}}, "test")
			if err != nil {
				return err
			}
			pid = saved.Producto.ID
			_, err = f.svc.UpdateProducto(ctx, pid, repo.ProductoCampos{}, []catalog.ImagenRef{{URL: f.urls[1], Orden: 1}}, "test")
			return err
		}, "imagenes_trashed_total", "motivo", repo.MotivoProductoPut, 1},
		{"product deleted", func() error {
			_, err := f.svc.DeleteProducto(ctx, pid, "test")
			return err
		}, "imagenes_trashed_total", "motivo", repo.MotivoProductoDelete, 1},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := f.counter(t, s.metric, s.label, s.value); got != s.want {
			t.Errorf("%s: %s{%s=%q} = %v, want %v", s.name, s.metric, s.label, s.value, got, s.want)
		}
	}
}

// expect turns the wanted error into success and anything else into a
// failure.
func expect(err, want error) error {
	if errors.Is(err, want) {
		return nil
	}
	if err == nil {
		return fmt.Errorf("no error, want %v", want)
	}
	return err
}
