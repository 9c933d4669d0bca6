package repo_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
)

// entradas fills the trash with n entries: every third without the
// nullable columns (a legacy row without owner, product, size or type), the
// others with all of them, and returns the query reading them back.
func entradas(t testing.TB, n int) (*pgxpool.Pool, string) {
	t.Helper()
	pool, _ := dbtest.New(t)
	_, err := pool.Exec(context.Background(), `
INSERT INTO imagenes_papelera (imagen_id, producto_id, url, orden, owner_sub, bytes, content_type, sha256, creado_en, motivo, eliminado_por, sin_archivo)
SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE g END, NULL, '/recursos/imagenes/productos/' || g || '.png',
  CASE WHEN g % 3 = 0 THEN NULL ELSE 1 END, CASE WHEN g % 3 = 0 THEN NULL ELSE 'ana' END,
  CASE WHEN g % 3 = 0 THEN NULL ELSE 2048 END, CASE WHEN g % 3 = 0 THEN NULL ELSE 'image/png' END,
  CASE WHEN g % 3 = 0 THEN NULL ELSE md5(g::text) || md5(g::text) END, CASE WHEN g % 3 = 0 THEN NULL ELSE now() END,
  'imagen', CASE WHEN g % 3 = 0 THEN NULL ELSE 'admin' END, g % 2 = 0
FROM generate_series(1, $1) g`, n)
	if err != nil {
		t.Fatal(err)
	}
	return pool, `SELECT ` + repo.EntradaColumns + ` FROM imagenes_papelera ORDER BY id`
}

// TestScanEntrada: the hand-written scan reads every column, NULL or not,
// exactly as pgx.RowToStructByName does by the db tags.
func TestScanEntrada(t *testing.T) {
	t.Parallel()
	pool, q := entradas(t, 6)
	read := func(scan pgx.RowToFunc[repo.Entrada]) []repo.Entrada {
		rows, _ := pool.Query(context.Background(), q)
		es, err := pgx.CollectRows(rows, scan)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	byName, byScan := read(pgx.RowToStructByName[repo.Entrada]), read(repo.ScanEntrada)
	if len(byName) != 6 || byName[0].OwnerSub == nil || byName[2].OwnerSub != nil {
		t.Fatalf("fixture: want 6 entries, the third without owner: %+v", byName)
	}
	if d := cmp.Diff(byName, byScan); d != "" {
		t.Errorf("scanEntrada differs from RowToStructByName (-byName +scan):\n%s", d)
	}
}

// BenchmarkScanEntradas: collecting 256 entries (a full coalesced batch)
// by reflection and by scanEntrada, the query's time included in both.
//
//	go test -run '^$' -bench ScanEntradas -benchmem ./internal/repo/
func BenchmarkScanEntradas(b *testing.B) {
	pool, q := entradas(b, 256)
	for _, bb := range []struct {
		name string
		scan pgx.RowToFunc[repo.Entrada]
	}{{"RowToStructByName", pgx.RowToStructByName[repo.Entrada]}, {"scanEntrada", repo.ScanEntrada}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, _ := pool.Query(context.Background(), q)
				if es, err := pgx.CollectRows(rows, bb.scan); err != nil || len(es) != 256 {
					b.Fatalf("%d entries, %v", len(es), err)
				}
			}
		})
	}
}
