package repo_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
)

// The migrations run on a database that already holds Balsamoa's tables and
// rows, and lose nothing.
func TestMigrateOnExistingBalsamoaDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := dbtest.NewEmpty(t)
	balsamoa := []string{
		`CREATE TABLE categorias (id serial PRIMARY KEY, nombre varchar(100) NOT NULL)`,
		`CREATE TABLE productos (id serial PRIMARY KEY, nombre varchar(150) NOT NULL, descripcion text,
		  precio numeric(10,2) NOT NULL, categoria_id int REFERENCES categorias(id), destacado bool DEFAULT false,
		  activo bool DEFAULT true, fecha_creacion timestamp DEFAULT now())`,
		`CREATE TABLE producto_imagenes (id serial PRIMARY KEY, producto_id int NULL REFERENCES productos(id) ON DELETE CASCADE,
		  url varchar(255) NOT NULL, orden int DEFAULT 1)`,
		`INSERT INTO categorias (nombre) VALUES ('Velas')`,
		`INSERT INTO productos (nombre, descripcion, precio, categoria_id, destacado) VALUES ('Vela de lavanda', 'Aroma suave', 12.50, 1, true)`,
		`INSERT INTO producto_imagenes (producto_id, url, orden) VALUES (1, '/recursos/imagenes/productos/1700000000-vela.webp', 1),
		  (1, 'https://cdn.example.com/vela-2.jpg', 2), (NULL, '/recursos/imagenes/productos/suelta.png', 1)`,
	}
	for _, q := range balsamoa {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	type row struct {
		ID         int32
		ProductoID *int32
		URL        string
		Orden      *int32
	}
	snapshot := func() []row {
		rows, err := pool.Query(ctx, `SELECT id, producto_id, url, orden FROM producto_imagenes ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.ID, &r.ProductoID, &r.URL, &r.Orden); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	before := snapshot()

	for i := 0; i < 2; i++ { // twice: the second run must be a no-op
		if err := repo.Migrate(ctx, pool); err != nil {
			t.Fatalf("migrate (run %d): %v", i+1, err)
		}
	}
	if diff := cmp.Diff(before, snapshot()); diff != "" {
		t.Errorf("image rows changed by the migrations (-before +after):\n%s", diff)
	}
	var nombre, precio string
	var cat int
	if err := pool.QueryRow(ctx, `SELECT nombre, precio::text, categoria_id FROM productos WHERE id = 1`).Scan(&nombre, &precio, &cat); err != nil {
		t.Fatal(err)
	}
	if nombre != "Vela de lavanda" || precio != "12.50" || cat != 1 {
		t.Errorf("got product %q %s %d, want it unchanged", nombre, precio, cat)
	}
	// The new columns exist and are empty for Balsamoa's rows; the trash exists.
	var owners int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM producto_imagenes WHERE owner_sub IS NOT NULL OR sha256 IS NOT NULL`).Scan(&owners); err != nil {
		t.Fatalf("new columns: %v", err)
	}
	if owners != 0 {
		t.Errorf("got %d rows with an owner or hash, want 0", owners)
	}
	if _, err := pool.Exec(ctx, `SELECT id, imagen_id, motivo, eliminado_en FROM imagenes_papelera LIMIT 1`); err != nil {
		t.Errorf("trash table: %v", err)
	}
	st, err := repo.Status(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != st.Latest || len(st.Pending) != 0 {
		t.Errorf("got status %+v, want fully migrated", st)
	}
	// The store works on Balsamoa's rows: a delete moves the row to the trash.
	store := repo.New(pool)
	es, err := store.TrashImagenes(ctx, []int32{2}, repo.All, repo.MotivoImagen, "test")
	if err != nil || len(es) != 1 || !es[0].SinArchivo {
		t.Errorf("got %+v %v, want one entry marked sin_archivo (external url)", es, err)
	}
}

func TestMigrateFreshDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := dbtest.NewEmpty(t)
	st, err := repo.Status(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != 0 || len(st.Pending) == 0 {
		t.Errorf("got %+v, want version 0 with pending migrations", st)
	}
	if err := repo.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO productos (nombre, precio) VALUES ('x', 1)`); err != nil {
		t.Errorf("productos after migrate: %v", err)
	}
}
