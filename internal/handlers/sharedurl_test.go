package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
)

// status sends one request and returns its status, or the error; unlike
// e.do it is safe from goroutines (it never calls t.Fatal).
func (e *env) status(r req) (int, error) {
	got, err := e.try(r)
	return got.status, err
}

// try is e.do for goroutines: it returns the error instead of failing t.
func (e *env) try(r req) (resp, error) {
	hr := httptest.NewRequest(r.method, "http://example.test"+r.path, r.body)
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	res, err := e.app.Test(hr, -1)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b, header: res.Header}, err
}

// Legacy rows can share one url. Deleted at the same moment, each delete
// used to see the others' rows and record sin_archivo, so none moved the
// file and it stayed public (issue 11 defect 2). Deletes of one url are now
// serialised by its lock: the last one moves the file, exactly once, and
// restoring its entry brings the file back.
func TestConcurrentDeletesOfSharedURL(t *testing.T) {
	t.Parallel()
	// Each row of the url is attached to a product (its index in products,
	// -1 for none) and deleted by deleting that product or, unattached, by
	// deleting the image.
	tests := []struct {
		name     string
		products int
		rows     []int
	}{
		{name: "three image deletes", products: 0, rows: []int{-1, -1, -1}},
		{name: "two image deletes", products: 0, rows: []int{-1, -1}},
		{name: "two product deletes", products: 2, rows: []int{0, 1}},
		{name: "three product deletes", products: 3, rows: []int{0, 1, 2}},
		{name: "a product and an image delete", products: 1, rows: []int{0, -1}},
	}
	const rounds = 8
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			for round := range rounds {
				pids := make([]int, tt.products)
				for i := range pids {
					if err := e.pool.QueryRow(ctx, `INSERT INTO productos (nombre, precio) VALUES ($1, 1) RETURNING id`,
						fmt.Sprintf("p%d-%d", round, i)).Scan(&pids[i]); err != nil {
						t.Fatal(err)
					}
				}
				first, url := e.upload(pngBytes)
				var paths []string
				for i, p := range tt.rows {
					id := first
					if i > 0 {
						if err := e.pool.QueryRow(ctx, `INSERT INTO producto_imagenes (url) VALUES ($1) RETURNING id`, url).Scan(&id); err != nil {
							t.Fatal(err)
						}
					}
					if p < 0 {
						paths = append(paths, fmt.Sprintf("/api/v1/admin/imagenes/%d", id))
						continue
					}
					e.exec(`UPDATE producto_imagenes SET producto_id = $1 WHERE id = $2`, pids[p], id)
					paths = append(paths, fmt.Sprintf("/api/v1/admin/productos/%d", pids[p]))
				}

				statuses := make([]int, len(paths))
				errs := make([]error, len(paths))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i, p := range paths {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						statuses[i], errs[i] = e.status(req{method: "DELETE", path: p, token: e.admin})
					}()
				}
				close(start)
				wg.Wait()
				for i := range paths {
					if errs[i] != nil || statuses[i] != 200 {
						t.Fatalf("round %d: DELETE %s: %d %v, want 200", round, paths[i], statuses[i], errs[i])
					}
				}

				var moved []int64
				rows, err := e.pool.Query(ctx, `SELECT id FROM imagenes_papelera WHERE url = $1 AND NOT sin_archivo`, url)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var id int64
					if err := rows.Scan(&id); err != nil {
						t.Fatal(err)
					}
					moved = append(moved, id)
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				inTrash := 0
				for _, f := range e.trashFiles() {
					if strings.HasSuffix(f, "-"+path.Base(url)) {
						inTrash++
					}
				}
				if len(moved) != 1 || inTrash != 1 || e.live(url) {
					t.Fatalf("round %d: entries with the file %v, trash files %d, live %v; want one entry, one trash file, not live",
						round, moved, inTrash, e.live(url))
				}
				if got := e.do(t, req{method: "GET", path: url}); got.status != 404 {
					t.Fatalf("round %d: GET %s after every delete: %d, want 404", round, url, got.status)
				}

				// The entry that holds the file comes back with it (its
				// product first, when that was deleted too).
				var pid *int
				if err := e.pool.QueryRow(ctx, `SELECT producto_id FROM imagenes_papelera WHERE id = $1`, moved[0]).Scan(&pid); err != nil {
					t.Fatal(err)
				}
				if pid != nil {
					e.exec(`INSERT INTO productos (id, nombre, precio) VALUES ($1, 'otra vez', 1)`, *pid)
				}
				if got := e.do(t, req{method: "POST", path: fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", moved[0]), token: e.admin}); got.status != 200 {
					t.Fatalf("round %d: restore: %d %s, want 200", round, got.status, got.body)
				}
				if got := e.do(t, req{method: "GET", path: url}); got.status != 200 {
					t.Fatalf("round %d: GET %s after the restore: %d, want 200", round, url, got.status)
				}
				e.checkConsistent()
			}
		})
	}
}

// One product per external url, however many writes name it at once: 8
// simultaneous writes naming one new external url used to give 2–8 × 201
// (issue 11 defect 6). The url's lock now orders them: the first inserts
// it, every other finds it attached and answers 409 in Balsamoa's shape.
func TestConcurrentWritesOfOneExternalURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		creates int
		updates int // of existing products without images
	}{
		{name: "8 creates", creates: 8},
		{name: "4 creates and 4 updates", creates: 4, updates: 4},
	}
	const rounds = 4
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for round := range rounds {
				url := fmt.Sprintf("https://cdn.example.com/%s/%d.jpg", strings.ReplaceAll(tt.name, " ", "-"), round)
				body := func() io.Reader {
					b, _ := json.Marshal(map[string]any{"nombre": "Jabón", "precio": "3.00",
						"imagenes": []map[string]any{{"url": url, "orden": 1}}})
					return strings.NewReader(string(b))
				}
				var reqs []req
				for range tt.creates {
					reqs = append(reqs, req{method: "POST", path: "/api/v1/admin/productos"})
				}
				for range tt.updates {
					id := e.producto()
					reqs = append(reqs, req{method: "PUT", path: fmt.Sprintf("/api/v1/admin/productos/%d", id)})
				}
				got := make([]resp, len(reqs))
				errs := make([]error, len(reqs))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i, r := range reqs {
					r.token, r.body, r.contentType = e.admin, body(), "application/json"
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						got[i], errs[i] = e.try(r)
					}()
				}
				close(start)
				wg.Wait()
				won, conflicts := 0, 0
				for i, g := range got {
					if errs[i] != nil {
						t.Fatal(errs[i])
					}
					switch {
					case g.status == 201 || g.status == 200:
						won++
					case g.status == 409:
						conflicts++
						var m map[string]any
						if err := json.Unmarshal(g.body, &m); err != nil || m["mensaje"] != "La imagen ya pertenece a otro producto: "+url {
							t.Errorf("round %d: 409 body %s, want Balsamoa's mensaje naming the url", round, g.body)
						}
					default:
						t.Errorf("round %d: %s %s: %d %s, want 201/200 or 409", round, reqs[i].method, reqs[i].path, g.status, g.body)
					}
				}
				var rows int
				if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM producto_imagenes WHERE url = $1`, url).Scan(&rows); err != nil {
					t.Fatal(err)
				}
				if won != 1 || conflicts != len(reqs)-1 || rows != 1 {
					t.Fatalf("round %d: %d won, %d conflicts, %d rows of the url; want 1, %d, 1", round, won, conflicts, rows, len(reqs)-1)
				}
			}
		})
	}
}
