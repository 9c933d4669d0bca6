package handlers_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBalsamoaCatalogo: on a database with Balsamoa's view, the product
// reads answer its rows as they are — categories, stock by size, colours —
// as bare arrays, newest first.
func TestBalsamoaCatalogo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{balsamoa: true})
	_, u1 := e.upload(pngBytes)
	_, u2 := e.upload(webpBytes)
	create := func(body map[string]any) int {
		r := e.send("POST", "/api/v1/admin/productos", body)
		if r.status != 201 {
			t.Fatalf("create: got %d %s", r.status, r.body)
		}
		return int(r.json(t)["producto"].(map[string]any)["id"].(float64))
	}
	remera := create(map[string]any{"nombre": "Bálsamo de lavanda", "precio": "12.50", "destacado": true, "categoria_id": 1,
		"imagenes": []img{{"url": u2, "orden": 2}, {"url": u1, "orden": 1}}})
	// Stock written by Balsamoa itself, read back through its view.
	e.exec(`INSERT INTO variantes (producto_id, talle_id, color_id, stock) VALUES ($1, 1, 1, 3), ($1, 2, 2, 4), ($1, 2, 1, 1)`, remera)
	buzo := create(map[string]any{"nombre": "Buzo", "precio": 1, "categoria_id": 2})

	want := map[string]any{
		"id": float64(remera), "nombre": "Bálsamo de lavanda", "descripcion": nil, "categoria_id": 1.0, "categoria": "Remeras",
		"precio": "12.50", "destacado": true, "activo": true, "imagen_principal": u1, "stock_total": 8.0,
		"stock_por_talle": []any{map[string]any{"talle": "S", "cantidad": 3.0}, map[string]any{"talle": "M", "cantidad": 5.0}},
		"colores_hex":     []any{"#000000", "#ffffff"},
		"imagenes":        []any{map[string]any{"url": u1, "orden": 1.0}, map[string]any{"url": u2, "orden": 2.0}},
		"talle_ids":       []any{1.0, 2.0}, "color_ids": []any{1.0, 2.0},
	}
	tests := []struct {
		name, path, token string
		wantIDs           []int // for lists; nil: one product
	}{
		{"shop list, newest first", "/api/v1/tienda/productos", "", []int{buzo, remera}},
		{"shop featured", "/api/v1/tienda/productos?destacados=true", "", []int{remera}},
		{"shop product page", fmt.Sprintf("/api/v1/tienda/productos/%d", remera), "", nil},
		{"admin list", "/api/v1/admin/productos", e.admin, []int{buzo, remera}},
		{"admin product", fmt.Sprintf("/api/v1/admin/productos/%d", remera), e.admin, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.do(t, req{method: "GET", path: tt.path, token: tt.token})
			if got.status != 200 {
				t.Fatalf("got %d %s, want 200", got.status, got.body)
			}
			var row map[string]any
			if tt.wantIDs != nil {
				var l []map[string]any
				if err := json.Unmarshal(got.body, &l); err != nil {
					t.Fatalf("got %s, want a bare array: %v", got.body, err)
				}
				var ids []int
				for _, p := range l {
					ids = append(ids, int(p["id"].(float64)))
					if int(p["id"].(float64)) == remera {
						row = p
					}
				}
				if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
					t.Fatalf("ids (-want +got):\n%s", diff)
				}
			} else {
				row = got.json(t)
			}
			if row["fecha_creacion"] == nil {
				t.Errorf("got no fecha_creacion")
			}
			delete(row, "fecha_creacion")
			if diff := cmp.Diff(want, row); diff != "" {
				t.Errorf("catalogue row (-want +got):\n%s", diff)
			}
		})
	}
}
