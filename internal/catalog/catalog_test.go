package catalog_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

type fixture struct {
	pool  *pgxpool.Pool
	svc   *catalog.Service
	store *repo.Store
	files *storage.Storage
	reg   *prometheus.Registry
	root  string
	ids   []int32
	urls  []string
}

// newFixture makes n unattached images with real files.
func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	store, pool := dbtest.NewStore(t)
	root := t.TempDir()
	files, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	reg := prometheus.NewRegistry()
	svc := catalog.New(trash.New(store, files, zap.NewNop()), files, catalog.NewMetrics(reg))
	f := &fixture{pool: pool, svc: svc, store: store, files: files, reg: reg, root: root}
	f.addImages(t, n)
	return f
}

// addImages makes n more unattached images with real files.
func (f *fixture) addImages(t testing.TB, n int) {
	t.Helper()
	ids, urls := dbtest.Images(t, f.store, f.root, make([]string, n), nil)
	f.ids, f.urls = append(f.ids, ids...), append(f.urls, urls...)
}
