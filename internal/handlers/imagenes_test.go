package handlers_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestBalsamoaUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := append(append([]byte{}, pngBytes...), bytes.Repeat([]byte{0}, 5<<20)...)
	huge := append(append([]byte{}, pngBytes...), bytes.Repeat([]byte{0}, 11<<20)...)
	tests := []struct {
		name        string
		field       string
		content     []byte
		token       string
		raw         string // non-multipart body
		wantStatus  int
		wantMensaje string
	}{
		{name: "png", field: "imagen", content: pngBytes, token: e.admin, wantStatus: 201, wantMensaje: "Imagen subida correctamente"},
		{name: "jpeg", field: "imagen", content: jpegBytes, token: e.admin, wantStatus: 201},
		{name: "gif", field: "imagen", content: gifBytes, token: e.admin, wantStatus: 201},
		{name: "webp", field: "imagen", content: webpBytes, token: e.admin, wantStatus: 201},
		{name: "text named png", field: "imagen", content: textBytes, token: e.admin, wantStatus: 400, wantMensaje: "Solo se aceptan imágenes (jpg, png, webp, gif)"},
		{name: "over 5 MiB", field: "imagen", content: big, token: e.admin, wantStatus: 400, wantMensaje: "El archivo supera el límite de 5 MB"},
		{name: "over the body limit", field: "imagen", content: huge, token: e.admin, wantStatus: 400, wantMensaje: "El archivo supera el límite de 5 MB"},
		{name: "wrong field", field: "file", content: pngBytes, token: e.admin, wantStatus: 400, wantMensaje: "No se recibió ningún archivo"},
		{name: "not multipart", raw: "hola", token: e.admin, wantStatus: 400, wantMensaje: "No se recibió ningún archivo"},
		{name: "empty file", field: "imagen", content: []byte{}, token: e.admin, wantStatus: 400},
		{name: "no token", field: "imagen", content: pngBytes, wantStatus: 401},
		{name: "not admin", field: "imagen", content: pngBytes, token: e.alice, wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.on(t)
			r := req{method: "POST", path: "/api/v1/admin/imagenes/subir", token: tt.token}
			if tt.raw != "" {
				r.body, r.contentType = strings.NewReader(tt.raw), "text/plain"
			} else {
				r.body, r.contentType = multipartBody(t, tt.field, "foto.png", tt.content)
			}
			var got resp
			if len(tt.content) > 11<<20 { // fasthttp refuses it before any handler: needs a real socket
				got = postOversized(t, e.listen(), r.path, r.token, r.contentType, 1<<30, r.body)
			} else {
				got = e.do(t, r)
			}
			if got.status != tt.wantStatus {
				t.Fatalf("got status %d (%s), want %d", got.status, got.body, tt.wantStatus)
			}
			m := got.json(t)
			if _, ok := m["mensaje"].(string); !ok {
				t.Errorf("got body %s, want a {\"mensaje\"} body", got.body)
			}
			if tt.wantMensaje != "" && m["mensaje"] != tt.wantMensaje {
				t.Errorf("got mensaje %q, want %q", m["mensaje"], tt.wantMensaje)
			}
			if tt.wantStatus == 201 {
				url, _ := m["url"].(string)
				if !strings.HasPrefix(url, "/recursos/imagenes/productos/") || m["filename"] == "" || m["id"] == nil {
					t.Errorf("got body %s, want url under /recursos/imagenes/productos/, filename and id", got.body)
				}
				if !e.live(url) {
					t.Errorf("got no file at %s, want the upload there", url)
				}
			}
			if left := e.stagingFiles(); len(left) != 0 {
				t.Errorf("got %v in staging, want nothing left behind", left)
			}
		})
	}
}

func TestBalsamoaDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, url := e.upload(pngBytes)
	tests := []struct {
		name        string
		id          string
		token       string
		wantStatus  int
		wantMensaje string
	}{
		{"letters", "abc", e.admin, 400, "El ID de imagen debe ser un número válido"},
		{"negative", "-1", e.admin, 400, "El ID de imagen debe ser un número válido"},
		{"zero", "0", e.admin, 400, "El ID de imagen debe ser un número válido"},
		{"fraction", "1.5", e.admin, 400, "El ID de imagen debe ser un número válido"},
		{"too big", "99999999999999999999", e.admin, 400, "El ID de imagen debe ser un número válido"},
		{"above int4", "2147483648", e.admin, 400, "El ID de imagen debe ser un número válido"},
		{"plus sign", "+1", e.admin, 400, "El ID de imagen debe ser un número válido"},
		{"unknown", "999999", e.admin, 404, "Imagen no encontrada"},
		{"no token", fmt.Sprint(id), "", 401, ""},
		{"bad token", fmt.Sprint(id), "not.a.token", 401, ""},
		{"not admin", fmt.Sprint(id), e.alice, 403, ""},
		{"deleted", fmt.Sprint(id), e.admin, 200, "Imagen eliminada correctamente"},
		{"deleted again", fmt.Sprint(id), e.admin, 404, "Imagen no encontrada"},
	}
	for _, tt := range tests { // in order: the last two depend on each other
		t.Run(tt.name, func(t *testing.T) {
			got := e.do(t, req{method: "DELETE", path: "/api/v1/admin/imagenes/" + tt.id, token: tt.token})
			if got.status != tt.wantStatus {
				t.Fatalf("got status %d (%s), want %d", got.status, got.body, tt.wantStatus)
			}
			m := got.json(t)
			if _, ok := m["mensaje"].(string); !ok {
				t.Errorf("got body %s, want {\"mensaje\"}", got.body)
			}
			if tt.wantMensaje != "" && m["mensaje"] != tt.wantMensaje {
				t.Errorf("got mensaje %q, want %q", m["mensaje"], tt.wantMensaje)
			}
			if tt.wantStatus == 200 && (m["id"] != float64(id) || m["papelera_id"] == nil) {
				t.Errorf("got body %s, want id %d and papelera_id", got.body, id)
			}
		})
	}
	if e.rowExists(id) {
		t.Errorf("got row %d still there, want it deleted", id)
	}
	if e.live(url) {
		t.Errorf("got live file %s still there, want it in the trash", url)
	}
	if tf := e.trashFiles(); len(tf) != 1 || !strings.HasSuffix(tf[0], "-"+url[strings.LastIndex(url, "/")+1:]) {
		t.Errorf("got trash %v, want one file named after the entry and %s", tf, url)
	}
}

func TestBalsamoaList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []int
	for i := 0; i < 3; i++ {
		id, _ := e.upload(pngBytes)
		ids = append(ids, id)
	}
	e.exec(`INSERT INTO productos (id, nombre, precio) VALUES (7, 'Taza', 10)`)
	e.exec(`UPDATE producto_imagenes SET producto_id = 7 WHERE id = $1`, ids[0])

	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantIDs    []int
		wantNext   bool
	}{
		{"all", "", 200, ids, false},
		{"page of two", "?limite=2", 200, ids[:2], true},
		{"after", fmt.Sprintf("?despues_de=%d", ids[1]), 200, ids[2:], false},
		{"by product", "?producto_id=7", 200, ids[:1], false},
		{"unattached", "?sin_producto=true", 200, ids[1:], false},
		{"bad limit", "?limite=0", 400, nil, false},
		{"bad product", "?producto_id=x", 400, nil, false},
		{"bad flag", "?sin_producto=quizas", 400, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := e.do(t, req{method: "GET", path: "/api/v1/admin/imagenes" + tt.query, token: e.admin})
			if got.status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.wantStatus)
			}
			m := got.json(t)
			if tt.wantStatus != 200 {
				if _, ok := m["mensaje"]; !ok {
					t.Errorf("got %s, want {\"mensaje\"}", got.body)
				}
				return
			}
			var gotIDs []int
			for _, it := range m["imagenes"].([]any) {
				gotIDs = append(gotIDs, int(it.(map[string]any)["id"].(float64)))
			}
			if fmt.Sprint(gotIDs) != fmt.Sprint(tt.wantIDs) {
				t.Errorf("got ids %v, want %v", gotIDs, tt.wantIDs)
			}
			if (m["siguiente"] != nil) != tt.wantNext {
				t.Errorf("got siguiente %v, want present=%v", m["siguiente"], tt.wantNext)
			}
		})
	}
}
