package handlers_test

import (
	"context"
	"testing"
)

// A legacy row whose url the storage refuses as unsafe but which still
// names a served file ("/recursos/imagenes/productos//doble.png" shows
// "/recursos/imagenes/productos/doble.png": the server normalises request
// paths, as Balsamoa's Express does) used to be deleted as "no file": 200,
// the entry sin_archivo, "file already gone" logged, and the image still
// public. Every deleting route of both families now refuses such a delete
// with a 409 in its family's shape, changing nothing; only a url that names
// no file is deleted as sin_archivo.
func TestDeleteOfAURLTheStorageRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		url  string // the row's
		file string // the key the test puts a file under ("" none)
		// refused: the delete is the 409 and nothing changes; else it
		// succeeds with the entry sin_archivo and no file touched.
		refused bool
	}{
		{"a double slash naming a file", "/recursos/imagenes/productos//doble.png", "recursos/imagenes/productos/doble.png", true},
		{"a dot segment naming a file", "/recursos/imagenes/./productos/punto.png", "recursos/imagenes/productos/punto.png", true},
		{"a dot-dot segment naming a file", "/recursos/otra/../imagenes/productos/arriba.png", "recursos/imagenes/productos/arriba.png", true},
		{"a double slash naming no file", "/recursos/imagenes/productos//nada.png", "", false},
		{"a url climbing out of the root", "/recursos/../../etc/passwd.png", "", false},
	}
	for rname, rt := range deleteRoutes() {
		for _, tc := range cases {
			t.Run(rname+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t).on(t)
				ctx := context.Background()
				if tc.file != "" {
					e.kit.Put(t, tc.file, pngBytes, 0)
				}
				var pid *int
				if rt.product {
					var p int
					if err := e.pool.QueryRow(ctx, `INSERT INTO productos (nombre, precio) VALUES ('Vela', 3) RETURNING id`).Scan(&p); err != nil {
						t.Fatal(err)
					}
					pid = &p
				}
				var owner *string
				if rt.owner != "" {
					owner = &rt.owner
				}
				var id int
				if err := e.pool.QueryRow(ctx, `INSERT INTO producto_imagenes (producto_id, url, orden, owner_sub) VALUES ($1, $2, 1, $3) RETURNING id`,
					pid, tc.url, owner).Scan(&id); err != nil {
					t.Fatal(err)
				}
				p := 0
				if pid != nil {
					p = *pid
				}
				r, ok := rt.del(e, id, p)
				entries := e.count(`SELECT count(*) FROM imagenes_papelera`)
				if !tc.refused {
					if !ok || e.rowExists(id) || e.count(`SELECT count(*) FROM imagenes_papelera WHERE sin_archivo`) != 1 {
						t.Fatalf("got %d %s, row %v, %d entries; want its success, the row gone, one sin_archivo entry",
							r.status, r.body, e.rowExists(id), entries)
					}
					return
				}
				if r.status != 409 {
					t.Fatalf("got %d %s, want 409", r.status, r.body)
				}
				if m := r.json(t); m[rt.family] == nil || len(m) != 1 {
					t.Errorf("body %s, want {%q}", r.body, rt.family)
				}
				if !e.rowExists(id) || entries != 0 || len(e.trashFiles()) != 0 {
					t.Errorf("row %v, %d entries, trash %v; want the row unchanged, nothing in the trash", e.rowExists(id), entries, e.trashFiles())
				}
				if got := e.do(t, req{method: "GET", path: "/" + tc.file}); got.status != 200 {
					t.Errorf("GET /%s: %d, want the file still served", tc.file, got.status)
				}
			})
		}
	}
}
