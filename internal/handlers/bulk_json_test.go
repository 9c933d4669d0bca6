package handlers_test

import (
	"fmt"
	"strings"
	"testing"
)

// The bulk route reads exactly {"ids": [...]}: one object, the one key
// "ids" (case-sensitive, once), nothing after it but whitespace. Anything
// else is the 400 and deletes nothing. encoding/json's struct decoding
// took "IDS" for "ids", let a repeated key win, skipped unknown keys, and
// Decoder.More let a stray "]" or "}" through: each of those deleted the
// image (issue 23).
func TestBulkDeleteExactJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string // %[1]d is the uploaded image's id
		deleted bool
	}{
		{name: "the exact body", body: `{"ids":[%[1]d]}`, deleted: true},
		{name: "whitespace around it", body: " \n\t{ \"ids\" : [ %[1]d ] }\r\n ", deleted: true},
		{name: "a stray ]", body: `{"ids":[%[1]d]}]`},
		{name: "a stray }", body: `{"ids":[%[1]d]}}`},
		{name: "a stray comma", body: `{"ids":[%[1]d]},`},
		{name: "trailing garbage", body: `{"ids":[%[1]d]} x`},
		{name: "a second object", body: `{"ids":[%[1]d]}{"ids":[%[1]d]}`},
		{name: "a NUL after it", body: "{\"ids\":[%[1]d]}\x00"},
		{name: "key in capitals", body: `{"IDS":[%[1]d]}`},
		{name: "key capitalised", body: `{"Ids":[%[1]d]}`},
		{name: "ids repeated", body: `{"ids":[%[1]d],"ids":[%[1]d]}`},
		{name: "ids repeated, the last one names it", body: `{"ids":[999999],"ids":[%[1]d]}`},
		{name: "ids repeated, the first one names it", body: `{"ids":[%[1]d],"ids":[999999]}`},
		{name: "ids and IDS", body: `{"ids":[%[1]d],"IDS":[%[1]d]}`},
		{name: "an extra key after", body: `{"ids":[%[1]d],"x":1}`},
		{name: "an extra key before", body: `{"x":1,"ids":[%[1]d]}`},
		{name: "a trailing comma inside", body: `{"ids":[%[1]d],}`},
		{name: "inside an array", body: `[{"ids":[%[1]d]}]`},
		{name: "unclosed object", body: `{"ids":[%[1]d]`},
		{name: "ids not a list", body: `{"ids":%[1]d}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id, _ := e.upload(pngBytes)
			got := e.do(t, req{method: "POST", path: "/api/v1/admin/imagenes/eliminar", token: e.admin,
				body: strings.NewReader(fmt.Sprintf(tt.body, id)), contentType: "application/json"})
			wantStatus := 400
			if tt.deleted {
				wantStatus = 200
			}
			if got.status != wantStatus {
				t.Fatalf("got %d %s, want %d", got.status, got.body, wantStatus)
			}
			if m := got.json(t); !tt.deleted && m["mensaje"] != "Lista de IDs inválida" {
				t.Errorf("mensaje %q, want %q", m["mensaje"], "Lista de IDs inválida")
			}
			if e.rowExists(id) == tt.deleted {
				t.Errorf("row exists=%v, want %v", e.rowExists(id), !tt.deleted)
			}
			e.checkConsistent()
		})
	}
}
