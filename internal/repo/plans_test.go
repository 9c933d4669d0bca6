package repo_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
)

// The statements that delete many rows at once check "another row keeps
// this url" with one probe of the url index per deleted row, whatever the
// counts. Written as the lone delete's EXISTS, the planner turned that
// check into a hashed subplan reading every row of producto_imagenes as
// soon as ~200 rows were deleted: 60 ms of a 1 000-id bulk delete over
// 40 000 images, and growing with the table. The plans are read over a
// table of 20 000 images (a few hundred make the planner prefer a scan
// anyway), in a transaction rolled back.
func TestManyRowDeletesProbeTheURLIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := dbtest.New(t)
	var pid int32
	if err := pool.QueryRow(ctx, `INSERT INTO productos (nombre, precio) VALUES ('p', 1) RETURNING id`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO producto_imagenes (url, producto_id, orden)
SELECT '/recursos/imagenes/productos/' || md5(g::text) || '.png', CASE WHEN g <= 300 THEN $1::int END, g
FROM generate_series(1, 20000) g`, pid); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE producto_imagenes`); err != nil {
		t.Fatal(err)
	}
	var ids []int32
	if err := pool.QueryRow(ctx, `SELECT array_agg(id) FROM (SELECT id FROM producto_imagenes ORDER BY id DESC LIMIT 1000) s`).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sql  string
		args []any
	}{
		{"bulk delete of 1 000 ids", repo.TrashManyByIDsSQL, []any{ids, true, nil, repo.MotivoImagen, "admin"}},
		{"product delete of 300 images", repo.TrashByProductoSQL, []any{pid, repo.MotivoProductoDelete, "admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			var plan string
			if err := tx.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+tt.sql, tt.args...).Scan(&plan); err != nil {
				t.Fatal(err)
			}
			var nodes []map[string]any
			if err := json.Unmarshal([]byte(plan), &nodes); err != nil {
				t.Fatal(err)
			}
			if scans := seqScans(nodes[0]["Plan"], "producto_imagenes"); scans > 0 {
				t.Errorf("got %d sequential scans of producto_imagenes, want index probes only:\n%s", scans, plan)
			}
		})
	}
}

// seqScans counts the nodes of an EXPLAIN (FORMAT JSON) plan that read
// relation from end to end.
func seqScans(node any, relation string) int {
	m, _ := node.(map[string]any)
	n := 0
	if m["Node Type"] == "Seq Scan" && m["Relation Name"] == relation {
		n++
	}
	kids, _ := m["Plans"].([]any)
	for _, k := range kids {
		n += seqScans(k, relation)
	}
	return n
}
