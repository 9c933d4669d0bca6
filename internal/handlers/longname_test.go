package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	neturl "net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imagenes/imagenes/internal/storage"
)

// longURLs are local urls as long as the column and the storage take (255
// bytes), with the longest file names a Balsamoa shop's rows can hold: the
// service's own uploads are named by a uuid, so such rows come from the
// shop's data (multer names its files "<ms>-<original name>"). The trash
// name adds "<entry id>-<unix time>-" to the file name, which took them past
// the 255 bytes a file name may have: the move was refused as an unsafe
// path, the row's delete committed and the file stayed live (issue 12).
var longURLs = map[string]string{
	"ascii, 245 bytes":      "/recursos/" + strings.Repeat("v", 241) + ".jpg",
	"two-byte letters":      "/recursos/" + strings.Repeat("ñ", 120) + "a.jpg",
	"a product image":       storage.ProductPrefix + "1700000000-" + strings.Repeat("vela-de-lavanda-", 13) + "xyz.png",
	"a dot and no hyphen":   "/recursos/" + strings.Repeat("x", 200) + "." + strings.Repeat("e", 44),
	"no extension, ~ in it": "/recursos/f/" + strings.Repeat("~", 243),
}

// deleteRoute is one route that deletes an image row, as a test drives it.
type deleteRoute struct {
	owner   string                                 // owner_sub of the row ("" none)
	product bool                                   // the row belongs to a product
	family  string                                 // its errors' body key: "mensaje" or "error"
	del     func(e *env, id, pid int) (resp, bool) // the delete; ok when its status is its success
}

// deleteRoutes is every route that deletes an image, in both families.
func deleteRoutes() map[string]deleteRoute {
	return map[string]deleteRoute{
		"balsamoa DELETE /imagenes/:id": {family: "mensaje", del: func(e *env, id, _ int) (resp, bool) {
			r := e.do(e.t, req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/imagenes/%d", id), token: e.admin})
			return r, r.status == 200
		}},
		"cat DELETE /api/image/:id by its owner": {owner: "alice", family: "error", del: func(e *env, id, _ int) (resp, bool) {
			r := e.do(e.t, req{method: "DELETE", path: fmt.Sprintf("/api/image/%d", id), token: e.alice})
			return r, r.status == 204
		}},
		"cat DELETE /api/image/:id by an admin": {family: "error", del: func(e *env, id, _ int) (resp, bool) {
			r := e.do(e.t, req{method: "DELETE", path: fmt.Sprintf("/api/image/%d", id), token: e.admin})
			return r, r.status == 204
		}},
		"bulk POST /imagenes/eliminar": {family: "mensaje", del: func(e *env, id, _ int) (resp, bool) {
			r := e.do(e.t, req{method: "POST", path: "/api/v1/admin/imagenes/eliminar", token: e.admin,
				body: strings.NewReader(fmt.Sprintf(`{"ids": [%d]}`, id)), contentType: "application/json"})
			return r, r.status == 200
		}},
		"DELETE /productos/:id": {product: true, family: "mensaje", del: func(e *env, _, pid int) (resp, bool) {
			r := e.send("DELETE", fmt.Sprintf("/api/v1/admin/productos/%d", pid), nil)
			return r, r.status == 200
		}},
		"PUT /productos/:id replacing the set": {product: true, family: "mensaje", del: func(e *env, _, pid int) (resp, bool) {
			r := e.send("PUT", fmt.Sprintf("/api/v1/admin/productos/%d", pid),
				map[string]any{"nombre": "Vela", "precio": "3.00", "imagenes": []img{}})
			return r, r.status == 200
		}},
	}
}

// Every route that deletes an image, in both families, with an image whose
// url has the longest file name: the row goes, the file goes to the trash
// under its entry (and is served no more), the janitor finds nothing to
// settle, and restoring the entry brings the row and the same bytes back.
func TestDeleteLongFileName(t *testing.T) {
	t.Parallel()
	routes := deleteRoutes()
	for rname, rt := range routes {
		for uname, url := range longURLs {
			t.Run(rname+"/"+uname, func(t *testing.T) {
				t.Parallel()
				if len(url) != 255 || !utf8.ValidString(url) {
					t.Fatalf("test url of %d bytes, want 255 (the column's width)", len(url))
				}
				e := newEnv(t)
				if err := e.files.WriteMarker(t.Context()); err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				content := append([]byte(url), pngBytes...)
				e.kit.Put(t, url[1:], content, 0)
				var pid *int
				if rt.product {
					var p int
					if err := e.pool.QueryRow(ctx, `INSERT INTO productos (nombre, precio) VALUES ('Vela', 3) RETURNING id`).Scan(&p); err != nil {
						t.Fatal(err)
					}
					pid = &p
				}
				owner := &rt.owner
				if rt.owner == "" {
					owner = nil
				}
				var id int
				if err := e.pool.QueryRow(ctx, `INSERT INTO producto_imagenes (producto_id, url, orden, owner_sub) VALUES ($1, $2, 1, $3) RETURNING id`,
					pid, url, owner).Scan(&id); err != nil {
					t.Fatal(err)
				}
				p := 0
				if pid != nil {
					p = *pid
				}

				if r, ok := rt.del(e, id, p); !ok {
					t.Fatalf("delete: got %d %s", r.status, r.body)
				}
				var entry int64
				var sinArchivo bool
				if err := e.pool.QueryRow(ctx, `SELECT id, sin_archivo FROM imagenes_papelera WHERE imagen_id = $1`, id).Scan(&entry, &sinArchivo); err != nil {
					t.Fatalf("no trash entry for image %d: %v", id, err)
				}
				if e.rowExists(id) || e.live(url) || sinArchivo {
					t.Fatalf("after the delete: row %v, live file %v, entry without file %v; want none of them",
						e.rowExists(id), e.live(url), sinArchivo)
				}
				if got := e.do(t, req{method: "GET", path: (&neturl.URL{Path: url}).EscapedPath()}); got.status != 404 {
					t.Errorf("GET the deleted image: %d, want 404", got.status)
				}
				trash := e.trashFiles()
				if len(trash) != 1 || len(trash[0]) > 255 || !utf8.ValidString(trash[0]) ||
					!strings.HasPrefix(trash[0], fmt.Sprintf("%d-", entry)) {
					t.Fatalf("trash %q: want one file of at most 255 bytes named for entry %d", trash, entry)
				}
				if !bytes.Equal(e.kit.Read(t, ".papelera/"+trash[0]), content) {
					t.Errorf("the trash file holds other bytes than the image")
				}
				e.checkConsistent()
				// Nothing is left for the janitor: no orphan, no lost or
				// unknown trash file.
				rep := e.do(t, req{method: "POST", path: "/api/v1/admin/conserje/simular", token: e.admin}).json(t)
				for _, k := range []string{"recovered", "purged", "orphans", "dangling", "adopted", "trash_missing"} {
					if rep[k] != float64(0) {
						t.Errorf("janitor dry run after the delete: %s = %v, want 0 (%v)", k, rep[k], rep)
					}
				}

				if rname == "DELETE /productos/:id" {
					// The product went with it: it comes back first.
					e.exec(`INSERT INTO productos (id, nombre, precio) VALUES ($1, 'Vela', 3)`, *pid)
				}
				if r := e.do(t, req{method: "POST", path: fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", entry), token: e.admin}); r.status != 200 {
					t.Fatalf("restore: got %d %s, want 200", r.status, r.body)
				}
				if !e.rowExists(id) || len(e.trashFiles()) != 0 {
					t.Fatalf("after the restore: row %v, trash %q; want the row back and the trash empty", e.rowExists(id), e.trashFiles())
				}
				if got := e.do(t, req{method: "GET", path: (&neturl.URL{Path: url}).EscapedPath()}); got.status != 200 || !bytes.Equal(got.body, content) {
					t.Errorf("GET the restored image: %d, %d bytes; want 200 and the same %d bytes", got.status, len(got.body), len(content))
				}
				e.checkConsistent()
			})
		}
	}
}

// The service never makes such a name itself: an upload is named by a
// uuid, whatever its client called it, and a product write cannot attach a
// local url that has no row.
func TestUploadNamesAreShort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("ñ", 200) + ".png"
	body, ct := multipartBody(t, "imagen", long, pngBytes)
	r := e.do(t, req{method: "POST", path: "/api/v1/admin/imagenes/subir", token: e.admin, body: body, contentType: ct})
	if r.status != 201 {
		t.Fatalf("upload: got %d %s, want 201", r.status, r.body)
	}
	if u := r.json(t)["url"].(string); len(path.Base(u)) != len("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.png") {
		t.Errorf("upload of %q got url %q, want a uuid name", long, u)
	}
	r = e.send("POST", "/api/v1/admin/productos", map[string]any{"nombre": "Vela", "precio": "3.00",
		"imagenes": []img{{"url": longURLs["ascii, 245 bytes"]}}})
	if r.status != 400 || !strings.Contains(r.json(t)["mensaje"].(string), "La imagen no existe") {
		t.Errorf("product naming a local url without a row: got %d %s, want 400 'La imagen no existe'", r.status, r.body)
	}
}
