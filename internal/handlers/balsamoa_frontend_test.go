package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// panel is Balsamoa's admin panel in a browser: its cookie "token" (as its
// login sets it), same-origin requests.
type panel struct {
	e     *env
	token string
}

func (p panel) do(t *testing.T, method, path string, body any) resp {
	t.Helper()
	r := req{method: method, path: path, header: map[string]string{
		"Cookie": "token=" + p.token, "Origin": "http://example.test", "Sec-Fetch-Site": "same-origin"}}
	if body != nil {
		r.body, r.contentType = jsonBody(t, body), "application/json"
	}
	return p.e.do(t, r)
}

// upload is the panel's image upload: FormData with the field "imagen",
// reading "url" from the answer.
func (p panel) upload(t *testing.T, name string, content []byte) string {
	t.Helper()
	body, ct := multipartBody(t, "imagen", name, content)
	r := p.e.do(t, req{method: "POST", path: "/api/v1/admin/imagenes/subir", body: body, contentType: ct,
		header: map[string]string{"Cookie": "token=" + p.token, "Origin": "http://example.test", "Sec-Fetch-Site": "same-origin"}})
	if r.status != 201 {
		t.Fatalf("upload: got %d %s, want 201", r.status, r.body)
	}
	u, _ := r.json(t)["url"].(string)
	if u == "" {
		t.Fatalf("upload answer %s has no url", r.body)
	}
	return u
}

// shopList is what Balsamoa's shop pages read: a bare array.
func shopList(t *testing.T, e *env, path string) []map[string]any {
	t.Helper()
	r := e.do(t, req{method: "GET", path: path})
	if r.status != 200 {
		t.Fatalf("GET %s: got %d %s", path, r.status, r.body)
	}
	var l []map[string]any
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("GET %s: got %s, want a bare array: %v", path, r.body, err)
	}
	return l
}

// TestBalsamoaFrontend replays what Balsamoa's shop and admin panel do,
// with its session cookie, on a database holding its tables (issue 16).
func TestBalsamoaFrontend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{balsamoa: true})
	admin := panel{e: e, token: balsamoaToken(t, 1, 1, anaSesion)}

	// The panel uploads two photos, then creates the product with them and
	// its variants.
	u1 := admin.upload(t, "remera frente.webp", webpBytes)
	u2 := admin.upload(t, "remera espalda.png", pngBytes)
	created := admin.do(t, "POST", "/api/v1/admin/productos", map[string]any{
		"nombre": "Remera Guardapampa", "descripcion": "Algodón", "precio": 25000, "categoria_id": 1, "destacado": true,
		"imagenes":  []map[string]any{{"url": u1, "orden": 1}, {"url": u2, "orden": 2}},
		"variantes": []map[string]any{{"talle_id": 1, "color_id": 1, "stock": 4}, {"talle_id": "2", "color_id": 2, "stock": "0"}},
	})
	if created.status != 201 {
		t.Fatalf("create: got %d %s", created.status, created.body)
	}
	pid := int(created.json(t)["producto"].(map[string]any)["id"].(float64))
	plain := admin.do(t, "POST", "/api/v1/admin/productos", map[string]any{"nombre": "Buzo", "precio": "40000.00", "categoria_id": 2})
	if plain.status != 201 {
		t.Fatalf("create a second: got %d %s", plain.status, plain.body)
	}
	buzo := int(plain.json(t)["producto"].(map[string]any)["id"].(float64))

	// The shop: list, featured, product page.
	if l := shopList(t, e, "/api/v1/tienda/productos"); len(l) != 2 || int(l[0]["id"].(float64)) != buzo {
		t.Errorf("shop list: got %v, want the two products, newest (%d) first", l, buzo)
	}
	feat := shopList(t, e, "/api/v1/tienda/productos?destacados=true")
	if len(feat) != 1 || int(feat[0]["id"].(float64)) != pid {
		t.Fatalf("featured: got %v, want product %d", feat, pid)
	}
	page := e.do(t, req{method: "GET", path: fmt.Sprintf("/api/v1/tienda/productos/%d", pid)}).json(t)
	wantPage := map[string]any{
		"categoria": "Remeras", "imagen_principal": u1, "stock_total": 4.0, "precio": "25000.00",
		"stock_por_talle": []any{map[string]any{"talle": "S", "cantidad": 4.0}, map[string]any{"talle": "M", "cantidad": 0.0}},
		"colores_hex":     []any{"#000000", "#ffffff"}, "talle_ids": []any{1.0, 2.0}, "color_ids": []any{1.0, 2.0},
		"imagenes": []any{map[string]any{"url": u1, "orden": 1.0}, map[string]any{"url": u2, "orden": 2.0}},
	}
	for k, want := range wantPage {
		if diff := cmp.Diff(want, page[k]); diff != "" {
			t.Errorf("product page %s (-want +got):\n%s", k, diff)
		}
	}
	if diff := cmp.Diff(feat[0], page); diff != "" {
		t.Errorf("the featured row and the product page differ (-list +page):\n%s", diff)
	}

	// Update: a new photo replaces the back one, variants replaced.
	u3 := admin.upload(t, "remera detalle.jpg", jpegBytes)
	upd := admin.do(t, "PUT", fmt.Sprintf("/api/v1/admin/productos/%d", pid), map[string]any{
		"nombre": "Remera Guardapampa", "precio": "26000", "categoria_id": 1,
		"imagenes":  []map[string]any{{"url": u3, "orden": 1}, {"url": u1, "orden": 2}},
		"variantes": []map[string]any{{"talle_id": 3, "color_id": 1, "stock": 2}, {"talle_id": 1, "color_id": 1, "stock": 1}},
	})
	if upd.status != 200 {
		t.Fatalf("update: got %d %s", upd.status, upd.body)
	}
	if e.live(u2) || !e.live(u1) || !e.live(u3) {
		t.Errorf("after the update: u2 live %v (want false), u1 %v, u3 %v (want true)", e.live(u2), e.live(u1), e.live(u3))
	}
	got := admin.do(t, "GET", fmt.Sprintf("/api/v1/admin/productos/%d", pid), nil).json(t)
	if got["imagen_principal"] != u3 || got["stock_total"] != 3.0 || got["precio"] != "26000.00" {
		t.Errorf("after the update: got %v, want imagen_principal %s, stock_total 3, precio 26000.00", got, u3)
	}
	if diff := cmp.Diff([]any{map[string]any{"talle": "S", "cantidad": 1.0}, map[string]any{"talle": "L", "cantidad": 2.0}}, got["stock_por_talle"]); diff != "" {
		t.Errorf("stock_por_talle after the update (-want +got):\n%s", diff)
	}
	if n := e.count(`SELECT count(*) FROM variantes WHERE producto_id = $1`, pid); n != 2 {
		t.Errorf("got %d variants, want the 2 of the update", n)
	}

	// Deactivate: gone from the shop, still in the admin list; activate.
	if r := admin.do(t, "PATCH", fmt.Sprintf("/api/v1/admin/productos/%d/desactivar", pid), nil); r.status != 200 {
		t.Fatalf("desactivar: got %d %s", r.status, r.body)
	}
	if r := e.do(t, req{method: "GET", path: fmt.Sprintf("/api/v1/tienda/productos/%d", pid)}); r.status != 404 {
		t.Errorf("shop page of an inactive product: got %d, want 404", r.status)
	}
	var adminList []map[string]any
	if r := admin.do(t, "GET", "/api/v1/admin/productos", nil); r.status != 200 || json.Unmarshal(r.body, &adminList) != nil || len(adminList) != 2 {
		t.Errorf("admin list: got %d %s, want both products", r.status, r.body)
	}
	if r := admin.do(t, "PATCH", fmt.Sprintf("/api/v1/admin/productos/%d/activar", pid), nil); r.status != 200 {
		t.Fatalf("activar: got %d %s", r.status, r.body)
	}
	if l := shopList(t, e, "/api/v1/tienda/productos?destacados=true"); len(l) != 1 {
		t.Errorf("featured after activar: got %v, want the product back", l)
	}

	// Delete: its images go to the trash, its variants with it.
	if r := admin.do(t, "DELETE", fmt.Sprintf("/api/v1/admin/productos/%d", pid), nil); r.status != 200 {
		t.Fatalf("delete: got %d %s", r.status, r.body)
	}
	if e.live(u1) || e.live(u3) || e.count(`SELECT count(*) FROM variantes WHERE producto_id = $1`, pid) != 0 {
		t.Errorf("after delete: images live or variants left")
	}
	e.checkConsistent()

	// Sessions: a signed-out session is 401, a Cliente is 403.
	e.exec(`UPDATE usuarios SET sesion_id = gen_random_uuid() WHERE id = 1`)
	if r := admin.do(t, "GET", "/api/v1/admin/productos", nil); r.status != 401 || r.json(t)["mensaje"] == nil {
		t.Errorf("after the session changed: got %d %s, want 401 {mensaje}", r.status, r.body)
	}
	cliente := panel{e: e, token: balsamoaToken(t, 2, 2, carlosSesion)}
	if r := cliente.do(t, "POST", "/api/v1/admin/productos", map[string]any{"nombre": "x", "precio": 1, "categoria_id": 1}); r.status != 403 {
		t.Errorf("a Cliente creating a product: got %d %s, want 403", r.status, r.body)
	}
}

// TestBalsamoaProductoValidation: Balsamoa's 400 messages for its fields.
func TestBalsamoaProductoValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{balsamoa: true})
	pid := int(e.send("POST", "/api/v1/admin/productos", map[string]any{"nombre": "p", "precio": 1, "categoria_id": 1}).json(t)["producto"].(map[string]any)["id"].(float64))
	put := fmt.Sprintf("/api/v1/admin/productos/%d", pid)
	v := func(vs ...map[string]any) map[string]any {
		return map[string]any{"nombre": "p", "precio": 1, "categoria_id": 1, "variantes": vs}
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		mensaje            string
	}{
		{"create without categoria", "POST", "/api/v1/admin/productos", map[string]any{"nombre": "p", "precio": 1}, 400, "La categoría (categoria_id) es obligatoria y debe ser un número"},
		{"variantes not a list", "POST", "/api/v1/admin/productos", map[string]any{"nombre": "p", "precio": 1, "categoria_id": 1, "variantes": "S"}, 400, `El campo "variantes" debe ser un arreglo`},
		{"variant without talle", "POST", "/api/v1/admin/productos", v(map[string]any{"color_id": 1, "stock": 1}), 400, `Cada variante debe tener obligatoriamente "talle_id" y "color_id"`},
		{"variant without color, update", "PUT", put, v(map[string]any{"talle_id": 1}), 400, `Cada variante debe tener "talle_id" y "color_id"`},
		{"negative stock", "POST", "/api/v1/admin/productos", v(map[string]any{"talle_id": 1, "color_id": 1, "stock": -1}), 400, "El stock de cada variante debe ser un número no negativo"},
		{"stock not a number", "PUT", put, v(map[string]any{"talle_id": 1, "color_id": 1, "stock": "mucho"}), 400, "El stock de cada variante debe ser un número no negativo"},
		{"pair twice", "PUT", put, v(map[string]any{"talle_id": 1, "color_id": 1}, map[string]any{"talle_id": 1, "color_id": 1}), 400, "Cada combinación de talle y color puede aparecer una sola vez"},
		{"unknown size", "PUT", put, v(map[string]any{"talle_id": 99, "color_id": 1}), 400, "Error de consistencia: La categoría, talle o color especificado no existen"},
		{"unknown category", "POST", "/api/v1/admin/productos", map[string]any{"nombre": "p", "precio": 1, "categoria_id": 99}, 400, "Error de consistencia: La categoría, talle o color especificado no existen"},
		{"update without categoria keeps it", "PUT", put, map[string]any{"precio": 2}, 200, "Producto actualizado correctamente"},
		{"missing stock is 0", "PUT", put, v(map[string]any{"talle_id": 1, "color_id": 2}), 200, "Producto actualizado correctamente"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(tt.method, tt.path, tt.body)
			if r.status != tt.status || r.json(t)["mensaje"] != tt.mensaje {
				t.Errorf("got %d %s, want %d {mensaje: %q}", r.status, r.body, tt.status, tt.mensaje)
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM variantes WHERE producto_id = $1 AND talle_id = 1 AND color_id = 2 AND stock = 0`, pid); n != 1 {
		t.Errorf("got %d rows for the last variant set, want 1 with stock 0", n)
	}
	if n := e.count(`SELECT count(*) FROM productos`); n != 1 {
		t.Errorf("got %d products, want only the first (refused creates wrote nothing)", n)
	}
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}
