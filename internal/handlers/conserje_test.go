package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/thumbs/thumbstest"
	"github.com/imagenes/imagenes/internal/trash"
)

// TestConserje: the admin's dry pass answers the CLI's report, changes
// nothing and is not stored as the last pass; a refusal is a 200 saying
// why; a pass holding the lock makes it 409; the last real pass's report
// is read back whichever process ran it.
func TestConserje(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	stale, _ := e.upload(thumbstest.Encoded(t, "png", 10, 10))
	e.exec(`UPDATE producto_imagenes SET created_at = now() - interval '48 hours' WHERE id = $1`, stale)

	// No marker yet (serve writes it): the janitor refuses, and says so.
	r := e.do(t, req{method: "POST", path: "/api/v1/admin/conserje/simular", token: e.admin})
	if r.status != 200 || !strings.Contains(r.json(t)["refused"].(string), "marker") {
		t.Fatalf("without the marker: got %d %s, want 200 with refused naming the marker", r.status, r.body)
	}
	if err := e.files.WriteMarker(t.Context()); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, method, path, token string
		header                    map[string]string
		want                      int
		check                     func(t *testing.T, m map[string]any)
	}{
		{"last before any pass", "GET", "/api/v1/admin/conserje", e.admin, nil, 200, func(t *testing.T, m map[string]any) {
			if m["ultimo"] != nil || m["imagenes"].(float64) != 1 || m["retencion_horas"].(float64) != 168 {
				t.Errorf("got %v, want ultimo null, 1 image, 168 h", m)
			}
		}},
		{"dry run counts the stale unattached image", "POST", "/api/v1/admin/conserje/simular", e.admin, nil, 200, func(t *testing.T, m map[string]any) {
			for _, k := range []string{"recovered", "purged", "orphans", "dangling", "repaired", "duration_ms", "thumbnails"} {
				if _, ok := m[k]; !ok {
					t.Errorf("report has no %q: %v", k, m)
				}
			}
			if m["dry_run"] != true || m["unattached"].(float64) != 1 || m["items"] != nil {
				t.Errorf("got %v, want dry_run, unattached 1, no items", m)
			}
		}},
		{"dry run with detalle names the image", "POST", "/api/v1/admin/conserje/simular?detalle=true", e.admin, nil, 200, func(t *testing.T, m map[string]any) {
			items, _ := m["items"].(map[string]any)["unattached"].([]any)
			if len(items) != 1 || int(items[0].(map[string]any)["imagen_id"].(float64)) != stale {
				t.Errorf("got items %v, want the image %d", m["items"], stale)
			}
		}},
		{"bad detalle", "POST", "/api/v1/admin/conserje/simular?detalle=si", e.admin, nil, 400, nil},
		{"no token", "POST", "/api/v1/admin/conserje/simular", "", nil, 401, nil},
		{"not admin", "POST", "/api/v1/admin/conserje/simular", e.alice, nil, 403, nil},
		{"not admin reads", "GET", "/api/v1/admin/conserje", e.alice, nil, 403, nil},
		{"cookie from another site", "POST", "/api/v1/admin/conserje/simular", "", map[string]string{"Cookie": "token=" + e.admin, "Origin": "https://evil.example"}, 403, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, req{method: tc.method, path: tc.path, token: tc.token, header: tc.header})
			if r.status != tc.want {
				t.Fatalf("got %d %s, want %d", r.status, r.body, tc.want)
			}
			if tc.check != nil {
				tc.check(t, r.json(t))
			} else if _, ok := r.json(t)["mensaje"]; !ok {
				t.Errorf("got %s, want a {\"mensaje\"}", r.body)
			}
		})
	}
	if !e.rowExists(stale) {
		t.Fatal("a dry run trashed the image")
	}

	lock, ok, err := repo.NewPassLocks(e.pool).TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("take the pass lock: %v %v", ok, err)
	}
	r = e.do(t, req{method: "POST", path: "/api/v1/admin/conserje/simular", token: e.admin})
	lock.Release(ctx)
	if r.status != 409 || !strings.Contains(r.json(t)["mensaje"].(string), "en curso") {
		t.Errorf("with the lock held: got %d %s, want 409 en curso", r.status, r.body)
	}

	// A real pass by another process (the standalone janitor).
	before := time.Now()
	j := janitor.New(janitor.Deps{Store: e.store, Files: e.files, Protocol: trash.New(e.store, e.files, zap.NewNop()), PassLock: repo.NewPassLocks(e.pool), Log: zap.NewNop()})
	if _, err := j.Run(ctx, janitor.Config{Retention: time.Hour, OrphanGrace: time.Hour, UnattachedTTL: 24 * time.Hour, MaxOrphans: 10, BatchSize: 10}); err != nil {
		t.Fatal(err)
	}
	m := e.do(t, req{method: "GET", path: "/api/v1/admin/conserje", token: e.admin}).json(t)
	last, _ := m["ultimo"].(map[string]any)
	fecha, _ := time.Parse(time.RFC3339Nano, m["fecha"].(string))
	if last == nil || last["dry_run"] != false || last["unattached"].(float64) != 1 || fecha.Before(before.Add(-time.Second)) {
		t.Errorf("after a real pass: got %v, want its report (unattached 1) and its time", m)
	}
	if pap := m["papelera"].(map[string]any); pap["entradas"].(float64) != 1 || m["imagenes"].(float64) != 0 {
		t.Errorf("got papelera %v and %v images, want 1 entry and 0 images", pap, m["imagenes"])
	}
}
