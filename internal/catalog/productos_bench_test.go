package catalog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/repo"
)

// BenchmarkDeleteProducto measures a product delete with n images (one
// transaction: lock, one delete-and-record statement, n renames, delete,
// commit) against deleting the same n images one request at a time.
//
//	go test -run '^$' -bench DeleteProducto -benchtime 200x ./internal/catalog/
//
// Setting up each product (rows and files) is outside the timer.
func BenchmarkDeleteProducto(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("images=%d/product", n), func(b *testing.B) {
			f := newFixture(b, 0)
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				pid := f.productWith(b, n)
				b.StartTimer()
				es, err := f.svc.DeleteProducto(ctx, pid, "bench")
				if err != nil || len(es) != n {
					b.Fatalf("delete producto: %d entries, %v", len(es), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/product")
		})
		b.Run(fmt.Sprintf("images=%d/one-by-one", n), func(b *testing.B) {
			f := newFixture(b, 0)
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				pid := f.productWith(b, n)
				ids := f.ids[len(f.ids)-n:]
				b.StartTimer()
				for _, id := range ids {
					if _, err := f.svc.DeleteImagen(ctx, id, repo.All, "bench"); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if err := f.store.DeleteProducto(ctx, pid); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/product")
		})
	}
}

// productWith creates a product whose set is n new images with files.
func (f *fixture) productWith(t testing.TB, n int) int32 {
	t.Helper()
	ctx := context.Background()
	nombre, precio := "bench", "1.00"
	saved, err := f.svc.CreateProducto(ctx, repo.ProductoCampos{Nombre: &nombre, Precio: &precio}, nil, "bench")
	if err != nil {
		t.Fatal(err)
	}
	start := len(f.urls)
	f.addImages(t, n)
	set := make([]catalog.ImagenRef, n)
	for i := range set {
		set[i] = catalog.ImagenRef{URL: f.urls[start+i], Orden: int32(i + 1)}
	}
	if _, err := f.svc.UpdateProducto(ctx, saved.Producto.ID, repo.ProductoCampos{}, set, "bench"); err != nil {
		t.Fatal(err)
	}
	return saved.Producto.ID
}
