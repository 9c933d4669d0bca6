package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type entradaRow struct {
	id  int64
	at  time.Time
	url string
}

// jsonBody is a request body from a Go value or raw JSON text.
func jsonBody(t testing.TB, v any) *strings.Reader {
	t.Helper()
	if s, ok := v.(string); ok {
		return strings.NewReader(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReader(string(b))
}

// send is an admin request with a JSON body.
func (e *env) send(method, path string, body any) resp {
	e.t.Helper()
	r := req{method: method, path: path, token: e.admin}
	if body != nil {
		r.body, r.contentType = jsonBody(e.t, body), "application/json"
	}
	return e.do(e.t, r)
}

type img = map[string]any

// producto creates a product with the image set and returns its id.
func (e *env) producto(set ...img) int {
	e.t.Helper()
	body := map[string]any{"nombre": "Bálsamo de lavanda", "precio": "12.50", "destacado": true}
	if set != nil {
		body["imagenes"] = set
	}
	r := e.send("POST", "/api/v1/admin/productos", body)
	if r.status != 201 {
		e.t.Fatalf("create producto: got %d %s, want 201", r.status, r.body)
	}
	return int(r.json(e.t)["producto"].(map[string]any)["id"].(float64))
}

// urlsOf lists the image urls of a product JSON, in the order given.
func urlsOf(p map[string]any) []string {
	var out []string
	for _, i := range p["imagenes"].([]any) {
		out = append(out, i.(map[string]any)["url"].(string))
	}
	return out
}

func TestProductoLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id1, u1 := e.upload(pngBytes)
	id2, u2 := e.upload(jpegBytes)
	id3, u3 := e.upload(gifBytes)

	// Create with three images, listed out of order: orden decides.
	pid := e.producto(img{"url": u3, "orden": 3}, img{"url": u1, "orden": 1}, img{"url": u2, "orden": 2})
	pub := e.do(t, req{method: "GET", path: fmt.Sprintf("/api/v1/tienda/productos/%d", pid)})
	if pub.status != 200 {
		t.Fatalf("public read: got %d %s", pub.status, pub.body)
	}
	p := pub.json(t)
	if got, want := urlsOf(p), []string{u1, u2, u3}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("public images: got %v, want %v in orden", got, want)
	}
	// Balsamoa's catalogue shape; without its tables, the fields only they
	// hold are empty.
	if p["imagen_principal"] != u1 || p["stock_total"] != 0.0 || p["categoria"] != nil || p["activo"] != true {
		t.Errorf("got %v, want imagen_principal %s, stock_total 0, categoria null, activo true", p, u1)
	}
	for _, empty := range []string{"stock_por_talle", "colores_hex", "talle_ids", "color_ids"} {
		if l, ok := p[empty].([]any); !ok || len(l) != 0 {
			t.Errorf("got %s %v, want []", empty, p[empty])
		}
	}
	if p["precio"] != "12.50" {
		t.Errorf("got precio %v, want \"12.50\"", p["precio"])
	}
	// The uploaded rows were adopted: same ids.
	if ids := fmt.Sprint(e.imageIDs(pid)); ids != fmt.Sprint([]int{id1, id2, id3}) {
		t.Errorf("got image ids %s, want the uploaded ones %v", ids, []int{id1, id2, id3})
	}

	// PUT with two of them: the third goes to the trash, the others stay.
	put := e.send("PUT", fmt.Sprintf("/api/v1/admin/productos/%d", pid),
		map[string]any{"imagenes": []img{{"url": u2, "orden": 1}, {"url": u1, "orden": 2}}})
	if put.status != 200 {
		t.Fatalf("PUT: got %d %s", put.status, put.body)
	}
	if got := urlsOf(put.json(t)["producto"].(map[string]any)); fmt.Sprint(got) != fmt.Sprint([]string{u2, u1}) {
		t.Errorf("PUT answer images: got %v, want [%s %s]", got, u2, u1)
	}
	if e.rowExists(id3) || e.live(u3) {
		t.Errorf("dropped image: row present=%v, live file present=%v; want both gone", e.rowExists(id3), e.live(u3))
	}
	if !e.rowExists(id1) || !e.rowExists(id2) || !e.live(u1) || !e.live(u2) {
		t.Errorf("kept images were touched")
	}
	if n := len(e.trashFiles()); n != 1 {
		t.Errorf("got %d trash files, want 1", n)
	}
	e.checkConsistent()

	// Delete the product: both files go to the trash.
	del := e.send("DELETE", fmt.Sprintf("/api/v1/admin/productos/%d", pid), nil)
	if del.status != 200 {
		t.Fatalf("DELETE: got %d %s", del.status, del.body)
	}
	if n := len(del.json(t)["papelera"].([]any)); n != 2 {
		t.Errorf("DELETE answer lists %d trash entries, want 2", n)
	}
	if e.rowExists(id1) || e.rowExists(id2) || e.live(u1) || e.live(u2) {
		t.Errorf("product delete left rows or live files")
	}
	if n := len(e.trashFiles()); n != 3 {
		t.Errorf("got %d trash files, want 3", n)
	}
	if r := e.do(t, req{method: "GET", path: fmt.Sprintf("/api/v1/tienda/productos/%d", pid)}); r.status != 404 {
		t.Errorf("public read of a deleted product: got %d, want 404", r.status)
	}
	e.checkConsistent()

	// The dropped image's product is gone: restoring it is a 409. Restoring
	// it after re-creating nothing stays a 409; an unattached image comes
	// back. Attach u1's entry to nothing by restoring the PUT's entry first.
	var entryU1 int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM imagenes_papelera WHERE url = $1`, u1).Scan(&entryU1); err != nil {
		t.Fatal(err)
	}
	if r := e.send("POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", entryU1), nil); r.status != 409 {
		t.Errorf("restore of an image whose product is gone: got %d %s, want 409", r.status, r.body)
	}
	// Give the entry a product again (the admin re-created it) and restore.
	e.exec(`INSERT INTO productos (id, nombre, precio) VALUES ($1, 'otra vez', 1)`, pid)
	r := e.send("POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", entryU1), nil)
	if r.status != 200 {
		t.Fatalf("restore: got %d %s, want 200", r.status, r.body)
	}
	got := r.json(t)["imagen"].(map[string]any)
	if int(got["id"].(float64)) != id1 || got["url"] != u1 || int(got["producto_id"].(float64)) != pid || int(got["orden"].(float64)) != 2 {
		t.Errorf("restored image: got %v, want id %d url %s product %d orden 2", got, id1, u1, pid)
	}
	served := e.do(t, req{method: "GET", path: u1})
	if served.status != 200 || string(served.body) != string(pngBytes) {
		t.Errorf("GET %s after restore: got %d (%d bytes), want 200 with the file", u1, served.status, len(served.body))
	}
	e.checkConsistent()
}

// imageIDs are the ids of product pid's image rows, in orden.
func (e *env) imageIDs(pid int) []int {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT id FROM producto_imagenes WHERE producto_id = $1 ORDER BY orden, id`, pid)
	if err != nil {
		e.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		e.t.Fatal(err)
	}
	return ids
}

func TestProductoValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, local := e.upload(pngBytes)
	other := e.producto(img{"url": local})
	tests := []struct {
		name    string
		body    any
		status  int
		mensaje string // substring
	}{
		{"broken JSON", `{"nombre":`, 400, "JSON inválido"},
		{"array body", `[1]`, 400, "objeto JSON"},
		{"empty body", ``, 400, "objeto JSON"},
		{"no nombre", map[string]any{"precio": 1}, 400, "nombre es obligatorio"},
		{"blank nombre", map[string]any{"nombre": "  ", "precio": 1}, 400, "nombre es obligatorio"},
		{"nombre too long", map[string]any{"nombre": strings.Repeat("ñ", 151), "precio": 1}, 400, "150"},
		{"nombre wrong type", map[string]any{"nombre": 5, "precio": 1}, 400, `"nombre"`},
		{"no precio", map[string]any{"nombre": "x"}, 400, "precio es obligatorio"},
		{"negative precio", map[string]any{"nombre": "x", "precio": -1}, 400, "precio"},
		{"three decimals", map[string]any{"nombre": "x", "precio": "1.005"}, 400, "precio"},
		{"precio too large", map[string]any{"nombre": "x", "precio": 100000000}, 400, "precio"},
		{"precio exponent", map[string]any{"nombre": "x", "precio": `1e3`}, 400, "precio"},
		{"precio not a number", map[string]any{"nombre": "x", "precio": "doce"}, 400, "precio"},
		{"categoria zero", map[string]any{"nombre": "x", "precio": 1, "categoria_id": 0}, 400, "categoria_id"},
		{"categoria too big", `{"nombre":"x","precio":1,"categoria_id":99999999999}`, 400, "categoria_id"},
		{"imagenes not a list", map[string]any{"nombre": "x", "precio": 1, "imagenes": "a.png"}, 400, `"imagenes"`},
		{"image without url", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"orden": 1}}}, 400, "url es obligatoria"},
		{"url repeated", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "https://a/b.png"}, {"url": "https://a/b.png"}}}, 400, "repetida"},
		{"url climbs out", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "/recursos/../etc/passwd"}}}, 400, "url inválida"},
		{"javascript url", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "javascript:alert(1)"}}}, 400, "debe empezar por http://, https:// o /recursos/"},
		{"data url", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "data:image/png;base64,AAAA"}}}, 400, "debe empezar por http://, https:// o /recursos/"},
		{"relative url", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "img/a.png"}}}, 400, "debe empezar por http://, https:// o /recursos/"},
		{"upper-case scheme", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "JAVASCRIPT://x/%0aalert(1)"}}}, 400, "debe empezar por http://, https:// o /recursos/"},
		{"http url without host", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "http:///a.png"}}}, 400, "debe empezar por http://, https:// o /recursos/"},
		{"url too long", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "https://a/" + strings.Repeat("b", 250)}}}, 400, "url inválida"},
		{"unknown local url", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "/recursos/imagenes/productos/00/nope.png"}}}, 400, "no existe"},
		{"image of another product", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": local}}}, 409, "otro producto"},
		{"orden not an int", map[string]any{"nombre": "x", "precio": 1, "imagenes": []img{{"url": "https://a/c.png", "orden": 1.5}}}, 400, "orden"},
		{"valid, precio as number", map[string]any{"nombre": "x", "precio": 3.5, "extra": "ignored"}, 201, "creado"},
		{"valid, external url", map[string]any{"nombre": "x", "precio": "0", "imagenes": []img{{"url": "https://cdn.example/a.png"}}}, 201, "creado"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send("POST", "/api/v1/admin/productos", tt.body)
			if r.status != tt.status {
				t.Fatalf("got %d %s, want %d", r.status, r.body, tt.status)
			}
			if m, _ := r.json(t)["mensaje"].(string); !strings.Contains(m, tt.mensaje) {
				t.Errorf("got mensaje %q, want it to contain %q", m, tt.mensaje)
			}
		})
	}
	// The refused writes left no product behind, and the other product kept its image.
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM productos`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("got %d products, want 3 (the first and the two valid ones)", n)
	}
	var owner int
	if err := e.pool.QueryRow(context.Background(), `SELECT producto_id FROM producto_imagenes WHERE url = $1`, local).Scan(&owner); err != nil || owner != other {
		t.Errorf("image of product %d now belongs to %d (%v)", other, owner, err)
	}
}

func TestProductoRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := e.producto()
	hidden := e.producto()
	e.exec(`UPDATE productos SET destacado = false WHERE id = $1`, pid)
	p := func(f string, a ...any) string { return fmt.Sprintf(f, a...) }
	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		check                     func(t *testing.T, m map[string]any)
		list                      func(t *testing.T, l []map[string]any, link string) // for array answers
	}{
		{name: "admin get", method: "GET", path: p("/api/v1/admin/productos/%d", pid), token: e.admin, status: 200},
		{name: "admin get unknown", method: "GET", path: "/api/v1/admin/productos/999999", token: e.admin, status: 404,
			check: mensaje("Producto no encontrado")},
		{name: "admin get bad id", method: "GET", path: "/api/v1/admin/productos/abc", token: e.admin, status: 400,
			check: mensaje("El ID de producto debe ser un número válido")},
		{name: "admin get huge id", method: "GET", path: "/api/v1/admin/productos/99999999999999999999", token: e.admin, status: 400},
		{name: "no token", method: "GET", path: "/api/v1/admin/productos", status: 401},
		{name: "not admin", method: "DELETE", path: p("/api/v1/admin/productos/%d", pid), token: e.alice, status: 403},
		{name: "desactivar", method: "PATCH", path: p("/api/v1/admin/productos/%d/desactivar", hidden), token: e.admin, status: 200,
			check: func(t *testing.T, m map[string]any) {
				if m["producto"].(map[string]any)["activo"] != false {
					t.Errorf("got %v, want activo false", m["producto"])
				}
			}},
		{name: "inactive hidden from shop", method: "GET", path: p("/api/v1/tienda/productos/%d", hidden), status: 404,
			check: mensaje("Producto no encontrado")},
		{name: "shop list shows active only", method: "GET", path: "/api/v1/tienda/productos", status: 200,
			list: func(t *testing.T, ps []map[string]any, link string) {
				if len(ps) != 1 || int(ps[0]["id"].(float64)) != pid || link != "" {
					t.Errorf("got %v and Link %q, want only product %d and no next page", ps, link, pid)
				}
			}},
		{name: "shop destacados", method: "GET", path: "/api/v1/tienda/productos?destacados=true", status: 200,
			list: func(t *testing.T, ps []map[string]any, _ string) {
				if len(ps) != 0 {
					t.Errorf("got %v, want none (the active one is not destacado)", ps)
				}
			}},
		{name: "shop bad query", method: "GET", path: "/api/v1/tienda/productos?destacados=quizas", status: 400},
		{name: "admin list: newest first, next page in Link", method: "GET", path: "/api/v1/admin/productos?limite=1", token: e.admin, status: 200,
			list: func(t *testing.T, ps []map[string]any, link string) {
				want := fmt.Sprintf(`</api/v1/admin/productos?antes_de=%d&limite=1>; rel="next"`, hidden)
				if len(ps) != 1 || int(ps[0]["id"].(float64)) != hidden || link != want {
					t.Errorf("got %v and Link %q, want product %d (the newest) and Link %q", ps, link, hidden, want)
				}
			}},
		{name: "admin list: the Link's page", method: "GET", path: p("/api/v1/admin/productos?antes_de=%d&limite=1", hidden), token: e.admin, status: 200,
			list: func(t *testing.T, ps []map[string]any, _ string) {
				if len(ps) != 1 || int(ps[0]["id"].(float64)) != pid {
					t.Errorf("got %v, want product %d", ps, pid)
				}
			}},
		{name: "admin list: bad cursor", method: "GET", path: "/api/v1/admin/productos?antes_de=cero", token: e.admin, status: 400},
		{name: "activar", method: "PATCH", path: p("/api/v1/admin/productos/%d/activar", hidden), token: e.admin, status: 200,
			check: mensaje("Producto activado correctamente")},
		{name: "shop sees it again", method: "GET", path: p("/api/v1/tienda/productos/%d", hidden), status: 200},
		{name: "activar unknown", method: "PATCH", path: "/api/v1/admin/productos/424242/activar", token: e.admin, status: 404},
		{name: "PUT partial keeps the rest", method: "PUT", path: p("/api/v1/admin/productos/%d", pid), token: e.admin,
			body: map[string]any{"precio": 7}, status: 200,
			check: func(t *testing.T, m map[string]any) {
				pr := m["producto"].(map[string]any)
				if pr["precio"] != "7.00" || pr["nombre"] != "Bálsamo de lavanda" {
					t.Errorf("got %v, want precio 7.00 and the old nombre", pr)
				}
			}},
		{name: "PUT null descripcion", method: "PUT", path: p("/api/v1/admin/productos/%d", pid), token: e.admin,
			body: map[string]any{"descripcion": nil}, status: 200},
		{name: "PUT null nombre", method: "PUT", path: p("/api/v1/admin/productos/%d", pid), token: e.admin,
			body: map[string]any{"nombre": nil}, status: 400},
		{name: "PUT unknown", method: "PUT", path: "/api/v1/admin/productos/424242", token: e.admin,
			body: map[string]any{"precio": 1}, status: 404},
		{name: "DELETE unknown", method: "DELETE", path: "/api/v1/admin/productos/424242", token: e.admin, status: 404,
			check: mensaje("Producto no encontrado")},
		{name: "DELETE bad id", method: "DELETE", path: "/api/v1/admin/productos/-1", token: e.admin, status: 400},
		{name: "DELETE", method: "DELETE", path: p("/api/v1/admin/productos/%d", pid), token: e.admin, status: 200},
		{name: "DELETE again", method: "DELETE", path: p("/api/v1/admin/productos/%d", pid), token: e.admin, status: 404},
	}
	for _, tt := range tests { // in order: the scenario builds on itself
		t.Run(tt.name, func(t *testing.T) {
			r := req{method: tt.method, path: tt.path, token: tt.token}
			if tt.body != nil {
				r.body, r.contentType = jsonBody(t, tt.body), "application/json"
			}
			got := e.do(t, r)
			if got.status != tt.status {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.status)
			}
			if tt.list != nil {
				var l []map[string]any
				if err := json.Unmarshal(got.body, &l); err != nil {
					t.Fatalf("got %s, want a bare JSON array: %v", got.body, err)
				}
				tt.list(t, l, got.header.Get("Link"))
				return
			}
			m := got.json(t)
			if got.status >= 400 {
				if _, ok := m["mensaje"].(string); !ok {
					t.Errorf("got %s, want a {\"mensaje\"} body", got.body)
				}
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func mensaje(want string) func(t *testing.T, m map[string]any) {
	return func(t *testing.T, m map[string]any) {
		t.Helper()
		if m["mensaje"] != want {
			t.Errorf("got mensaje %q, want %q", m["mensaje"], want)
		}
	}
}

// A PUT or product delete whose commit PostgreSQL refuses leaves every row
// and every file as it was.
func TestProductoWriteCommitRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		body   any
	}{
		{"PUT dropping two", "PUT", map[string]any{"imagenes": []img{}}},
		{"PUT dropping one, adopting one", "PUT", nil}, // body built below
		{"DELETE", "DELETE", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			_, u1 := e.upload(pngBytes)
			_, u2 := e.upload(jpegBytes)
			_, u3 := e.upload(gifBytes)
			pid := e.producto(img{"url": u1}, img{"url": u2})
			body := tt.body
			if tt.method == "PUT" && body == nil {
				body = map[string]any{"nombre": "cambiado", "imagenes": []img{{"url": u2}, {"url": u3}}}
			}
			before := e.snapshot()
			e.refuseCommits()
			r := e.send(tt.method, fmt.Sprintf("/api/v1/admin/productos/%d", pid), body)
			if r.status != 500 {
				t.Fatalf("got %d %s, want 500", r.status, r.body)
			}
			if m, _ := r.json(t)["mensaje"].(string); !strings.HasPrefix(m, "Error al") {
				t.Errorf("got mensaje %q, want the route's 500 message", m)
			}
			after := e.snapshot()
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Errorf("state changed:\nbefore %v\nafter  %v", before, after)
			}
			var nombre string
			var attached int
			if err := e.pool.QueryRow(context.Background(),
				`SELECT nombre, (SELECT count(*) FROM producto_imagenes WHERE producto_id = $1) FROM productos WHERE id = $1`, pid).Scan(&nombre, &attached); err != nil {
				t.Fatalf("product after refused commit: %v", err)
			}
			if nombre != "Bálsamo de lavanda" || attached != 2 {
				t.Errorf("got nombre %q with %d images, want the old product with 2", nombre, attached)
			}
			e.checkConsistent()
		})
	}
}

// Concurrent PUTs of one product, each with another subset of a pool of
// images, plus a second product trying to adopt the same images: whatever
// order they run in, no file is ever apart from its row.
func TestConcurrentProductoPuts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var urls []string
	for i := 0; i < 8; i++ {
		_, u := e.upload(pngBytes)
		urls = append(urls, u)
	}
	pid := e.producto(img{"url": urls[0]}, img{"url": urls[1]})
	rival := e.producto()
	const n = 16
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			target := pid
			if i%4 == 3 {
				target = rival
			}
			set := []img{{"url": urls[i%8]}, {"url": urls[(i+3)%8]}, {"url": urls[(i+5)%8]}}
			statuses[i] = e.send("PUT", fmt.Sprintf("/api/v1/admin/productos/%d", target), map[string]any{"imagenes": set}).status
		}(i)
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 && s != 409 && s != 400 {
			t.Errorf("PUT %d: got %d, want 200, or 409/400 when another write took or trashed an image first", i, s)
		}
	}
	e.checkConsistent()
}

// Concurrent restores of one entry: one wins, the others find it gone, and
// the file is back exactly once.
func TestConcurrentRestores(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, url := e.upload(pngBytes)
	del := e.send("DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", id), nil)
	if del.status != 200 {
		t.Fatalf("delete: got %d %s", del.status, del.body)
	}
	entry := int(del.json(t)["papelera_id"].(float64))
	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = e.send("POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", entry), nil).status
		}(i)
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case 200:
			won++
		case 404:
		default:
			t.Errorf("got status %d, want 200 or 404", s)
		}
	}
	if won != 1 {
		t.Errorf("got %d successful restores (%v), want exactly 1", won, statuses)
	}
	if !e.rowExists(id) || !e.live(url) || len(e.trashFiles()) != 0 {
		t.Errorf("after restores: row=%v live=%v trash=%v; want row and live file, empty trash", e.rowExists(id), e.live(url), e.trashFiles())
	}
	e.checkConsistent()
}
