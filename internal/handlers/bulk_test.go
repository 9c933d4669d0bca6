package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

// POST /api/v1/admin/imagenes/eliminar (SPEC §10): every image found goes
// to the trash in one transaction, all or none; the answer names each.
func TestBulkDelete(t *testing.T) {
	t.Parallel()
	type want struct {
		status     int
		mensaje    string
		eliminadas []int // indexes of the uploaded images, in the answer's order
		missing    []int // ids in no_encontradas
		trashed    []int // indexes whose file ends in the trash
	}
	tests := []struct {
		name   string
		images int
		body   func(ids []int) string
		setup  func(e *env, urls []string)
		token  func(e *env) string
		want   want
	}{
		{name: "found, missing and repeated ids", images: 3,
			body: func(ids []int) string {
				return fmt.Sprintf(`{"ids": [%d, 999999, %d, %d, %d]}`, ids[2], ids[0], ids[2], ids[1])
			},
			want: want{status: 200, mensaje: "Imágenes eliminadas correctamente", eliminadas: []int{2, 0, 1}, missing: []int{999999}, trashed: []int{0, 1, 2}}},
		{name: "only missing ids", images: 1,
			body: func([]int) string { return `{"ids": [999998, 999999]}` },
			want: want{status: 200, mensaje: "Imágenes eliminadas correctamente", missing: []int{999998, 999999}}},
		{name: "a file already gone is deleted anyway", images: 2,
			body:  func(ids []int) string { return fmt.Sprintf(`{"ids": [%d, %d]}`, ids[0], ids[1]) },
			setup: func(e *env, urls []string) { e.kit.Remove(e.t, urls[0][1:]) },
			want:  want{status: 200, mensaje: "Imágenes eliminadas correctamente", eliminadas: []int{0, 1}, trashed: []int{1}}},
		{name: "commit refused after every move: nothing changes", images: 3,
			body:  func(ids []int) string { return fmt.Sprintf(`{"ids": [%d, %d, %d]}`, ids[0], ids[1], ids[2]) },
			setup: func(e *env, _ []string) { e.refuseCommits() },
			want:  want{status: 500, mensaje: "Error al eliminar las imágenes de la base de datos"}},
		{name: "not admin", images: 1, token: func(e *env) string { return e.alice },
			body: func(ids []int) string { return fmt.Sprintf(`{"ids": [%d]}`, ids[0]) },
			want: want{status: 403}},
	}
	bad := map[string]string{
		"empty body": ``, "not JSON": `ids=1`, "an array": `[1, 2]`, "no ids": `{}`, "null ids": `{"ids": null}`,
		"empty list": `{"ids": []}`, "zero": `{"ids": [0]}`, "negative": `{"ids": [-1]}`, "fraction": `{"ids": [1.5]}`,
		"exponent": `{"ids": [1e3]}`, "string": `{"ids": ["1"]}`, "too big": `{"ids": [2147483648]}`,
		"null id": `{"ids": [null]}`, "trailing garbage": `{"ids": [1]} x`,
		"1001 ids": `{"ids": [` + strings.TrimSuffix(strings.Repeat("1,", 1001), ",") + `]}`,
	}
	for name, body := range bad {
		tests = append(tests, struct {
			name   string
			images int
			body   func(ids []int) string
			setup  func(e *env, urls []string)
			token  func(e *env) string
			want   want
		}{name: "bad body: " + name, images: 1, body: func([]int) string { return body },
			want: want{status: 400, mensaje: "Lista de IDs inválida"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var ids []int
			var urls []string
			for range tt.images {
				id, url := e.upload(pngBytes)
				ids, urls = append(ids, id), append(urls, url)
			}
			if tt.setup != nil {
				tt.setup(e, urls)
			}
			token := e.admin
			if tt.token != nil {
				token = tt.token(e)
			}
			got := e.do(t, req{method: "POST", path: "/api/v1/admin/imagenes/eliminar", token: token,
				body: strings.NewReader(tt.body(ids)), contentType: "application/json"})
			if got.status != tt.want.status {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.want.status)
			}
			m := got.json(t)
			if tt.want.mensaje != "" && m["mensaje"] != tt.want.mensaje {
				t.Errorf("mensaje %q, want %q", m["mensaje"], tt.want.mensaje)
			}
			if tt.want.status == 200 {
				var gotIDs []string
				for _, x := range m["eliminadas"].([]any) {
					el := x.(map[string]any)
					if el["papelera_id"].(float64) < 1 {
						t.Errorf("eliminada %v without a papelera_id", el)
					}
					gotIDs = append(gotIDs, fmt.Sprint(el["id"]))
				}
				var wantIDs []string
				for _, i := range tt.want.eliminadas {
					wantIDs = append(wantIDs, fmt.Sprint(ids[i]))
				}
				if fmt.Sprint(gotIDs) != fmt.Sprint(wantIDs) {
					t.Errorf("eliminadas %v, want %v", gotIDs, wantIDs)
				}
				if fmt.Sprint(m["no_encontradas"]) != fmt.Sprint(toAny(tt.want.missing)) {
					t.Errorf("no_encontradas %v, want %v", m["no_encontradas"], tt.want.missing)
				}
			}
			deleted := map[int]bool{}
			for _, i := range tt.want.eliminadas {
				deleted[i] = true
			}
			for i, id := range ids {
				if e.rowExists(id) == deleted[i] {
					t.Errorf("image %d: row exists=%v, want %v", i, e.rowExists(id), !deleted[i])
				}
			}
			if n := len(e.trashFiles()); n != len(tt.want.trashed) {
				t.Errorf("got %d trash files, want %d", n, len(tt.want.trashed))
			}
			for _, i := range tt.want.trashed {
				if e.live(urls[i]) {
					t.Errorf("image %d: file still live", i)
				}
			}
			e.checkConsistent()
		})
	}
}

func toAny(xs []int) []any {
	out := []any{}
	for _, x := range xs {
		out = append(out, float64(x))
	}
	return out
}

// Overlapping bulk deletes and single deletes at once, ids in opposite
// orders: no deadlock (every delete takes its url locks in one key order
// before any row lock), and each image is trashed by exactly one of them.
func TestBulkDeletesOverlap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const rounds, n = 4, 12
	for round := range rounds {
		var ids []int
		for range n {
			id, _ := e.upload(pngBytes)
			ids = append(ids, id)
		}
		list := func(xs []int) string {
			s := make([]string, len(xs))
			for i, x := range xs {
				s[i] = fmt.Sprint(x)
			}
			return `{"ids": [` + strings.Join(s, ",") + `]}`
		}
		rev := make([]int, n)
		for i, id := range ids {
			rev[n-1-i] = id
		}
		reqs := []req{
			{method: "POST", path: "/api/v1/admin/imagenes/eliminar", body: strings.NewReader(list(ids))},
			{method: "POST", path: "/api/v1/admin/imagenes/eliminar", body: strings.NewReader(list(rev))},
			{method: "POST", path: "/api/v1/admin/imagenes/eliminar", body: strings.NewReader(list(ids[n/2:]))},
		}
		for _, id := range ids[:n/2] {
			reqs = append(reqs, req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/imagenes/%d", id)})
		}
		got := make([]resp, len(reqs))
		errs := make([]error, len(reqs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, r := range reqs {
			r.token, r.contentType = e.admin, "application/json"
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[i], errs[i] = e.try(r)
			}()
		}
		close(start)
		wg.Wait()
		trashedBy := map[int]int{}
		for i, g := range got {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			switch {
			case reqs[i].method == "DELETE" && g.status == 200:
				var id int
				fmt.Sscanf(reqs[i].path, "/api/v1/admin/imagenes/%d", &id)
				trashedBy[id]++
			case reqs[i].method == "DELETE" && g.status == 404:
			case g.status == 200:
				var m struct {
					Eliminadas []struct{ ID int } `json:"eliminadas"`
				}
				if err := json.Unmarshal(g.body, &m); err != nil {
					t.Fatal(err)
				}
				for _, el := range m.Eliminadas {
					trashedBy[el.ID]++
				}
			default:
				t.Fatalf("round %d: %s %s: %d %s", round, reqs[i].method, reqs[i].path, g.status, g.body)
			}
		}
		for _, id := range ids {
			if trashedBy[id] != 1 || e.rowExists(id) {
				t.Errorf("round %d: image %d trashed by %d requests (row exists %v), want exactly one", round, id, trashedBy[id], e.rowExists(id))
			}
		}
		e.checkConsistent()
	}
}

// A bulk delete of the full 1 000 ids is all or nothing too: one file that
// cannot move (its neighbours already moved), or a commit refused after
// every move, leaves every row and live file as it was and nothing in the
// trash. Disk: only a folder has files that cannot move.
func TestBulkDeleteAllOrNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault func(e *env, urls []string)
	}{
		{"one file in the middle cannot move", func(e *env, urls []string) { storagetest.Unmovable(e.t, e.livePath(urls[len(urls)/2])) }},
		{"commit refused after every move", func(e *env, _ []string) { e.refuseCommits() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{storage: storagetest.Disk})
			ids, urls, body := e.seedImages(t, catalog.MaxBulk)
			tt.fault(e, urls)
			got := e.do(t, req{method: "POST", path: "/api/v1/admin/imagenes/eliminar", token: e.admin,
				body: strings.NewReader(body), contentType: "application/json"})
			if got.status != 500 || got.json(t)["mensaje"] != "Error al eliminar las imágenes de la base de datos" {
				t.Fatalf("got %d %s, want 500 with Balsamoa's mensaje", got.status, got.body)
			}
			var rows, entries int
			if err := e.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM producto_imagenes WHERE id = ANY($1)),
  (SELECT count(*) FROM imagenes_papelera)`, ids).Scan(&rows, &entries); err != nil {
				t.Fatal(err)
			}
			if rows != len(ids) || entries != 0 {
				t.Errorf("got %d of %d rows and %d trash entries, want every row and no entry", rows, len(ids), entries)
			}
			gone := 0
			for _, url := range urls {
				if !e.live(url) {
					gone++
				}
			}
			if n := len(e.trashFiles()); gone > 0 || n > 0 {
				t.Errorf("got %d live files missing and %d in the trash, want every file back", gone, n)
			}
			e.checkConsistent()
		})
	}
}

// Legacy rows can share one url. A bulk delete checks the url's other rows
// with its own statement (one index probe per row, see repo): the file
// moves once, when its last row goes, whether the other rows are in the
// same request or stay.
func TestBulkDeleteSharedURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		delete    func(shared, twin, other int) []int // the ids sent
		wantLive  bool                                // the shared file after it
		wantMoved int                                 // entries of the url that took its file
	}{
		{"both rows of the url", func(s, tw, o int) []int { return []int{s, o, tw} }, false, 1},
		{"one row of the url, its twin stays", func(s, _, o int) []int { return []int{o, s} }, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			shared, url := e.upload(pngBytes)
			other, _ := e.upload(pngBytes)
			var twin int
			if err := e.pool.QueryRow(ctx, `INSERT INTO producto_imagenes (url) VALUES ($1) RETURNING id`, url).Scan(&twin); err != nil {
				t.Fatal(err)
			}
			ids := tt.delete(shared, twin, other)
			got := e.do(t, req{method: "POST", path: "/api/v1/admin/imagenes/eliminar", token: e.admin,
				body: strings.NewReader(fmt.Sprintf(`{"ids": %s}`, strings.Join(strings.Fields(fmt.Sprint(ids)), ","))), contentType: "application/json"})
			if got.status != 200 {
				t.Fatalf("got %d %s, want 200", got.status, got.body)
			}
			var moved int
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM imagenes_papelera WHERE url = $1 AND NOT sin_archivo`, url).Scan(&moved); err != nil {
				t.Fatal(err)
			}
			inTrash := 0
			for _, f := range e.trashFiles() {
				if strings.HasSuffix(f, "-"+path.Base(url)) {
					inTrash++
				}
			}
			if e.live(url) != tt.wantLive || moved != tt.wantMoved || inTrash != tt.wantMoved {
				t.Errorf("got live=%v, %d entries with the file, %d trash files; want live=%v, %d and %d",
					e.live(url), moved, inTrash, tt.wantLive, tt.wantMoved, tt.wantMoved)
			}
			e.checkConsistent()
		})
	}
}

// seedImages adds n image rows with their live files (COPY, as `imagenes
// seed` does: a thousand uploads through the route would take the test's
// time) and returns their ids, urls and the bulk body naming them, on
// either storage.
func (e *env) seedImages(t testing.TB, n int) ([]int32, []string, string) {
	t.Helper()
	ctx := context.Background()
	first, err := e.store.MaxImagenID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]repo.NuevaImagen, n)
	urls := make([]string, n)
	keys := make([]string, n)
	for i := range rows {
		urls[i] = storage.NewImageURL("png")
		keys[i] = urls[i][1:]
		rows[i] = repo.NuevaImagen{URL: urls[i], Orden: 1, Bytes: int64(len(pngBytes)), ContentType: "image/png"}
	}
	e.kit.PutMany(t, keys, pngBytes)
	if _, err := e.store.CopyImagenes(ctx, rows, time.Now()); err != nil {
		t.Fatal(err)
	}
	// COPY takes ids in row order, after the highest id there was.
	rs, _ := e.pool.Query(ctx, `SELECT id FROM producto_imagenes WHERE id > $1 ORDER BY id`, first)
	ids, err := pgx.CollectRows(rs, pgx.RowTo[int32])
	if err != nil || len(ids) != n {
		t.Fatalf("seeded %d ids, want %d: %v", len(ids), n, err)
	}
	list := make([]string, n)
	for i, id := range ids {
		list[i] = strconv.Itoa(int(id))
	}
	return ids, urls, `{"ids":[` + strings.Join(list, ",") + `]}`
}

// bulkLimit is the most distinct ids the route takes on e's storage: the
// SPEC's 1 000 on a folder, objstore.MaxMovesPerRequest on a bucket.
func bulkLimit(e *env) int {
	if e.kit.Kind == storagetest.S3 {
		return objstore.MaxMovesPerRequest
	}
	return catalog.MaxBulk
}

// The largest request the route accepts finishes on each storage — on a
// bucket too, where a thousand moves outlasted REQUEST_TIMEOUT (10 s, as
// serve's default) and ended in a commit of unknown outcome: it gets its
// 200 with every image named and every object in the trash, and a refused
// commit puts every object back. One distinct id more is refused with a
// 413 naming the limit before anything changes; repeats count once.
func TestBulkDeleteLargest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		storage string
		extra   int  // ids beyond the limit: distinct new ones (> 0), or a repeat of the first (< 0)
		refuse  bool // PostgreSQL refuses the commit
		status  int
	}{
		{name: "bucket: the limit", storage: storagetest.S3, status: 200},
		{name: "bucket: the limit and a repeated id", storage: storagetest.S3, extra: -1, status: 200},
		{name: "bucket: the limit, commit refused", storage: storagetest.S3, refuse: true, status: 500},
		{name: "bucket: one id over the limit", storage: storagetest.S3, extra: 1, status: 413},
		{name: "folder: the limit", storage: storagetest.Disk, status: 200},
	}
	// In turn: one case's seeding (hundreds of PUTs) would otherwise take
	// MinIO's CPU from another's delete.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{storage: tt.storage})
			limit := bulkLimit(e)
			n := limit + max(tt.extra, 0)
			ids, urls, body := e.seedImages(t, n)
			if tt.extra < 0 {
				body = strings.Replace(body, "[", fmt.Sprintf("[%d,", ids[0]), 1)
			}
			if tt.refuse {
				e.refuseCommits()
			}
			start := time.Now()
			got := e.do(t, req{method: "POST", path: "/api/v1/admin/imagenes/eliminar", token: e.admin,
				body: strings.NewReader(body), contentType: "application/json"})
			t.Logf("%d ids: %d in %v", n, got.status, time.Since(start).Round(time.Millisecond)) // for the log, not asserted
			if got.status != tt.status {
				t.Fatalf("got %d %.300s, want %d", got.status, got.body, tt.status)
			}
			var m struct {
				Mensaje       string `json:"mensaje"`
				Eliminadas    []struct{ ID int32 }
				NoEncontradas []int32 `json:"no_encontradas"`
			}
			if err := json.Unmarshal(got.body, &m); err != nil {
				t.Fatalf("body %.300s: %v", got.body, err)
			}
			moved := tt.status == 200
			switch tt.status {
			case 200:
				gotIDs := make([]int32, len(m.Eliminadas))
				for i, el := range m.Eliminadas {
					gotIDs[i] = el.ID
				}
				if fmt.Sprint(gotIDs) != fmt.Sprint(ids) || len(m.NoEncontradas) != 0 {
					t.Errorf("eliminadas %d ids (no_encontradas %v), want the %d sent, in order", len(gotIDs), m.NoEncontradas, len(ids))
				}
			case 413:
				if want := fmt.Sprintf("hasta %d IDs distintos por solicitud", limit); !strings.Contains(m.Mensaje, want) {
					t.Errorf("mensaje %q, want one saying %q", m.Mensaje, want)
				}
			default:
				if m.Mensaje != "Error al eliminar las imágenes de la base de datos" {
					t.Errorf("mensaje %q, want Balsamoa's", m.Mensaje)
				}
			}
			keys := map[string]bool{}
			for _, k := range e.kit.Keys(t) {
				keys[k] = true
			}
			live := 0
			for _, url := range urls {
				if keys[url[1:]] {
					live++
				}
			}
			rows := e.count(`SELECT count(*) FROM producto_imagenes WHERE id = ANY($1)`, ids)
			entries := e.count(`SELECT count(*) FROM imagenes_papelera`)
			trashed := len(e.trashFiles())
			want := [4]int{n, n, 0, 0} // rows, live objects, trash entries, trash objects
			if moved {
				want = [4]int{0, 0, n, n}
			}
			if got := [4]int{rows, live, entries, trashed}; got != want {
				t.Errorf("rows, live objects, trash entries, trash objects: got %v, want %v", got, want)
			}
		})
	}
}
