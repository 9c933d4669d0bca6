package handlers_test

import (
	"context"
	"fmt"
	"testing"
)

// A COMMIT that reached PostgreSQL and was carried out, whose answer the
// connection lost, is not a COMMIT never sent: the delete happened, so its
// file must stay out of the public folder. The proxy passes the COMMIT on
// and resets the client's connection instead of passing the answer back.
// Undoing the moves there (as for a COMMIT pgx never wrote) would put a
// deleted image back in public with no row. The answer may be a 503
// (outcome unknown) or a 2xx; after it, the row is gone and the url serves
// nothing.
func TestCommitAnswerLost(t *testing.T) {
	t.Parallel()
	routes := []struct {
		name string
		cat  bool
		path func(id int) string
	}{
		{"balsamoa delete", false, func(id int) string { return fmt.Sprintf("/api/v1/admin/imagenes/%d", id) }},
		{"cat delete", true, func(id int) string { return fmt.Sprintf("/api/image/%d", id) }},
	}
	for _, tt := range routes {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxy := newPGProxy(t)
			e := newEnv(t, envOpts{appPool: proxy.pool})
			token, id, url := e.admin, 0, ""
			if tt.cat {
				token = e.alice
				id = e.uploadCat(e.alice, pngBytes)
				if err := e.pool.QueryRow(context.Background(), `SELECT url FROM producto_imagenes WHERE id = $1`, id).Scan(&url); err != nil {
					t.Fatal(err)
				}
			} else {
				id, url = e.upload(pngBytes)
			}
			proxy.arm("answer", true)
			got := e.do(t, req{method: "DELETE", path: tt.path(id), token: token})
			proxy.arm("", false)
			if !proxy.broke() {
				t.Fatal("the proxy lost no answer: the request never sent its COMMIT")
			}
			if got.status/100 != 2 && got.status != 503 {
				t.Fatalf("got %d %s, want a 2xx or 503", got.status, got.body)
			}
			if e.rowExists(id) {
				t.Fatalf("the row is there: the COMMIT the server received did not commit")
			}
			if e.live(url) {
				t.Errorf("answer %d: the deleted image's file is live again with no row (a COMMIT carried out was undone as never sent); logged: %v", got.status, e.loggedErrors())
			}
		})
	}
}
