package handlers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/crashtest"
	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storage/faultstore"
	"github.com/imagenes/imagenes/internal/storagetest"
	"github.com/imagenes/imagenes/internal/trash"
)

// matrixTimeout is the REQUEST_TIMEOUT of the fault matrix: short, so a
// hang's case takes seconds; the fault store's own limit (what bounds a
// hang no request context ends, an undo's) is half of it, as serve gives a
// bucket (s3Timeout).
const matrixTimeout = 2 * time.Second

// matrixEnv is one case's service over a fault store, and the content
// hashes of the images it uploaded: what must never be lost.
type matrixEnv struct {
	*env
	faults *faultstore.Store
	stored map[string]bool
}

var matrixUploads atomic.Int64

func newMatrixEnv(t *testing.T) *matrixEnv {
	m := &matrixEnv{stored: map[string]bool{}}
	m.env = newEnv(t, envOpts{requestTimeout: matrixTimeout, wrap: func(b storage.Backend) storage.Backend {
		m.faults = faultstore.New(b, faultstore.Options{Limit: matrixTimeout / 2})
		return m.faults
	}})
	if err := m.kit.WriteMarker(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// content is a PNG no other upload of the test binary has, recorded.
func (m *matrixEnv) content() []byte {
	b := append(slices.Clone(pngBytes), strconv.FormatInt(matrixUploads.Add(1), 10)...)
	sum := sha256.Sum256(b)
	m.stored[hex.EncodeToString(sum[:])] = true
	return b
}

// matrixOp is an operation that moves files: setup makes the state it
// acts on and returns its request and what its success changes in the rows.
type matrixOp struct {
	name  string
	setup func(m *matrixEnv) (r req, changed func(m *matrixEnv) bool)
}

var matrixOps = []matrixOp{
	{"balsamoa delete", func(m *matrixEnv) (req, func(*matrixEnv) bool) {
		id, _ := m.upload(m.content())
		return req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/imagenes/%d", id), token: m.admin},
			func(m *matrixEnv) bool { return !m.rowExists(id) }
	}},
	{"cat delete", func(m *matrixEnv) (req, func(*matrixEnv) bool) {
		id := m.uploadCat(m.alice, m.content())
		return req{method: "DELETE", path: fmt.Sprintf("/api/image/%d", id), token: m.alice},
			func(m *matrixEnv) bool { return !m.rowExists(id) }
	}},
	{"bulk delete", func(m *matrixEnv) (req, func(*matrixEnv) bool) {
		a, _ := m.upload(m.content())
		b, _ := m.upload(m.content())
		return req{method: "POST", path: "/api/v1/admin/imagenes/eliminar", token: m.admin, contentType: "application/json",
				body: jsonBody(m.t, fmt.Sprintf(`{"ids":[%d,%d]}`, a, b))},
			func(m *matrixEnv) bool { return !m.rowExists(a) && !m.rowExists(b) }
	}},
	{"product replace", func(m *matrixEnv) (req, func(*matrixEnv) bool) {
		a, ua := m.upload(m.content())
		_, ub := m.upload(m.content())
		pid := m.producto(img{"url": ua, "orden": 1}, img{"url": ub, "orden": 2})
		return req{method: "PUT", path: fmt.Sprintf("/api/v1/admin/productos/%d", pid), token: m.admin, contentType: "application/json",
				body: jsonBody(m.t, map[string]any{"imagenes": []img{{"url": ub, "orden": 1}}})},
			func(m *matrixEnv) bool { return !m.rowExists(a) }
	}},
	{"product delete", func(m *matrixEnv) (req, func(*matrixEnv) bool) {
		a, ua := m.upload(m.content())
		b, ub := m.upload(m.content())
		pid := m.producto(img{"url": ua, "orden": 1}, img{"url": ub, "orden": 2})
		return req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/productos/%d", pid), token: m.admin},
			func(m *matrixEnv) bool { return !m.rowExists(a) && !m.rowExists(b) }
	}},
	{"restore", func(m *matrixEnv) (req, func(*matrixEnv) bool) {
		id, _ := m.upload(m.content())
		del := m.send("DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", id), nil)
		if del.status != 200 {
			m.t.Fatalf("delete before the restore: %d %s", del.status, del.body)
		}
		entry := int(del.json(m.t)["papelera_id"].(float64))
		return req{method: "POST", path: fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", entry), token: m.admin},
			func(m *matrixEnv) bool {
				return m.count(`SELECT count(*) FROM imagenes_papelera WHERE id = $1`, entry) == 0
			}
	}},
}

// rowState is what a refused operation must leave as it was: every image
// row and every trash entry.
func (m *matrixEnv) rowState() string {
	m.t.Helper()
	var s string
	err := m.pool.QueryRow(context.Background(), `SELECT
		coalesce((SELECT string_agg(id || ' ' || url || ' ' || coalesce(producto_id::text, '-'), ',' ORDER BY id) FROM producto_imagenes), '') || ' | ' ||
		coalesce((SELECT string_agg(id || ' ' || url || ' ' || sin_archivo, ',' ORDER BY id) FROM imagenes_papelera), '')`).Scan(&s)
	if err != nil {
		m.t.Fatal(err)
	}
	return s
}

// janitorPass runs one pass on the (disarmed) fault store, its clock three
// hours ahead so that every file is past the orphan grace (a bucket's
// Last-Modified is the server's: storagetest.Kit.Skew).
func (m *matrixEnv) janitorPass(t *testing.T) janitor.Report {
	t.Helper()
	j := janitor.New(janitor.Deps{Store: m.store, Files: m.files, Protocol: trash.New(m.store, m.files, zap.NewNop()),
		PassLock: repo.NewPassLocks(m.pool), Log: zap.NewNop(), Now: func() time.Time { return time.Now().Add(3 * time.Hour) }})
	rep, err := j.Run(context.Background(), janitor.Config{Retention: 168 * time.Hour, OrphanGrace: time.Hour,
		UnattachedTTL: 24 * time.Hour, MaxOrphans: 1000, BatchSize: 100})
	if err != nil {
		t.Fatalf("janitor pass: %v", err)
	}
	return rep
}

// matrixCall is one storage call of an operation: its method and which of
// that method's calls it is.
type matrixCall struct {
	method string
	nth    int
}

// calls runs op cleanly and returns the storage calls its request made.
func (op matrixOp) calls(t *testing.T) []matrixCall {
	m := newMatrixEnv(t)
	r, changed := op.setup(m)
	m.faults.Clear()
	if got := m.do(t, r); got.status/100 != 2 || !changed(m) {
		t.Fatalf("%s without faults: %d %s", op.name, got.status, got.body)
	}
	seen := map[string]int{}
	var out []matrixCall
	for _, c := range m.faults.Calls() {
		seen[c.Method]++
		out = append(out, matrixCall{c.Method, seen[c.Method]})
	}
	if len(out) == 0 {
		t.Fatalf("%s made no storage call", op.name)
	}
	return out
}

var matrixModes = []faultstore.Fault{
	{Mode: faultstore.FailBefore},
	{Mode: faultstore.LoseAnswer},
	{Mode: faultstore.Hang},
	{Mode: faultstore.Hang, LandLate: true},
}

func modeName(f faultstore.Fault) string {
	if f.LandLate {
		return f.Mode.String() + "-land-late"
	}
	return f.Mode.String()
}

// TestFaultMatrix (issue 21): each operation that moves files × each
// storage call it makes (found by a clean run through the fault store) ×
// {fails before, answer lost, hangs, hangs and lands late}, on the storage
// IMAGENES_TEST_STORAGE names (make test runs both). The answer is
// truthful — a 2xx only with the rows changed and rows and files agreeing
// at once, otherwise the rows unchanged and never a 500 — it comes within
// REQUEST_TIMEOUT + 1 s, and after the late effects land and one janitor
// pass nothing is lost or left public (crashtest.CheckStore).
func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	var cases atomic.Int64
	for _, op := range matrixOps {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			for _, call := range op.calls(t) {
				for _, mode := range matrixModes {
					name := fmt.Sprintf("%s#%d/%s", call.method, call.nth, modeName(mode))
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						cases.Add(1)
						m := newMatrixEnv(t)
						r, changed := op.setup(m)
						m.faults.Clear()
						f := mode
						f.Method, f.Nth = call.method, call.nth
						m.faults.Inject(f)
						before := m.rowState()
						start := time.Now()
						got := m.do(t, r)
						took := time.Since(start)
						hit := m.faults.Hit()
						if took > matrixTimeout+time.Second {
							t.Errorf("answered after %s, want within REQUEST_TIMEOUT (%s) + 1 s", took.Round(time.Millisecond), matrixTimeout)
						}
						switch {
						case got.status == 500:
							t.Errorf("answered 500 %s", got.body)
						case got.status/100 == 2:
							if !changed(m) {
								t.Errorf("answered %d %s, but the rows did not change", got.status, got.body)
							}
							m.checkConsistent() // rows and files agree when the answer says done
						default:
							if after := m.rowState(); after != before {
								t.Errorf("answered %d %s, but the rows changed:\nbefore %s\nafter  %s", got.status, got.body, before, after)
							}
						}
						if err := m.faults.Land(); err != nil {
							t.Logf("a late effect failed (nothing landed): %v", err)
						}
						m.faults.Clear()
						m.janitorPass(t)
						crashtest.CheckStore(t, m.pool, m.kit, m.stored, fmt.Sprintf("after %d and a janitor pass", got.status))
						if t.Failed() {
							t.Logf("answer %d %s after %s; calls hit: %v", got.status, got.body, took.Round(time.Millisecond), hit)
						}
					})
				}
			}
		})
	}
	t.Cleanup(func() { t.Logf("fault matrix: %d cases on %s", cases.Load(), storagetest.KindFromEnv(t)) })
}
