package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// On a bucket, a delete whose DELETE of the live object the store carries
// out but whose answer never comes back (a reset connection), or which the
// store holds past the time limit and carries out later, used to lose the
// image: the move removed its trash copy after the failed delete, and the
// delete landing anyway left the object under neither key (503, the row
// kept, "bucket holds []"). The move now keeps the copy: the delete answers
// 503 with the row unchanged, and one janitor pass puts the object back
// live under its row — or, when the image was deleted again meanwhile
// (the retry found no live object: sin_archivo), gives the copy to that
// entry, so that restoring it brings the image back. Through a real proxy
// in front of the test MinIO that faults the one DELETE of the live key.
func TestDeleteWhoseStorageAnswerIsLost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		family string // "mensaje" (Balsamoa) or "error" (Cat)
		fault  s3test.Fault
		retry  bool // the delete is sent again, and answers its success, before the janitor's pass
	}{
		{"balsamoa, the answer lost", "mensaje", s3test.LoseAnswer, false},
		{"cat, the answer lost", "error", s3test.LoseAnswer, false},
		{"balsamoa, held past the time limit and carried out later", "mensaje", s3test.Hold, false},
		{"cat, held and carried out later", "error", s3test.Hold, false},
		{"balsamoa, the answer lost, the delete retried", "mensaje", s3test.LoseAnswer, true},
		{"cat, held and carried out later, the delete retried", "error", s3test.Hold, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := s3test.Bucket(t)
			direct, err := objstore.New(o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { direct.Close() })
			if err := direct.WriteMarker(t.Context()); err != nil {
				t.Fatal(err)
			}
			p := s3test.NewProxy(t, o.Endpoint)
			po := o
			po.Endpoint = p.Endpoint()
			po.Timeout = time.Second // what a held request outlasts (REQUEST_TIMEOUT stays 10 s)
			files, err := objstore.New(po)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { files.Close() })
			e := newEnv(t, envOpts{files: files})
			ctx := context.Background()

			id, url := e.upload(pngBytes)
			path := fmt.Sprintf("/api/v1/admin/imagenes/%d", id)
			if tc.family == "error" {
				path = fmt.Sprintf("/api/image/%d", id)
			}
			p.On(http.MethodDelete, url, tc.fault)
			got := e.do(t, req{method: "DELETE", path: path, token: e.admin})
			if got.status != 503 {
				t.Fatalf("DELETE %s: got %d %s, want 503", path, got.status, got.body)
			}
			if m := got.json(t); m[tc.family] == nil || len(m) != 1 {
				t.Errorf("DELETE %s: got %s, want {%q}", path, got.body, tc.family)
			}
			if p.Faults() != 1 {
				t.Fatalf("the proxy faulted %d requests, want the DELETE of %s", p.Faults(), url)
			}
			if tc.fault == s3test.Hold {
				p.Release()
			}
			p.WaitLanded(t) // the store carried the DELETE out
			if !e.rowExists(id) || e.count(`SELECT count(*) FROM imagenes_papelera`) != 0 {
				t.Fatalf("after the 503: row %v, %d trash entries; want the row unchanged and no entry",
					e.rowExists(id), e.count(`SELECT count(*) FROM imagenes_papelera`))
			}
			if keys := bucketKeys(t, direct); len(keys) != 1 {
				t.Fatalf("bucket holds %v, want the object's trash copy", keys)
			}
			if tc.retry {
				if got := e.do(t, req{method: "DELETE", path: path, token: e.admin}); got.status/100 != 2 {
					t.Fatalf("DELETE %s again: got %d %s, want its success", path, got.status, got.body)
				}
			}

			j := janitor.New(janitor.Deps{Store: e.store, Files: files, Protocol: trash.New(e.store, files, zap.NewNop()),
				PassLock: repo.NewPassLocks(e.pool), Log: zap.NewNop()})
			rep, err := j.Run(ctx, janitor.Config{Retention: 168 * time.Hour, OrphanGrace: time.Hour,
				UnattachedTTL: 24 * time.Hour, MaxOrphans: 10, BatchSize: 10})
			if err != nil {
				t.Fatalf("janitor pass: %v", err)
			}
			if rep.Recovered != 1 {
				t.Errorf("janitor pass: %+v, want the one trash copy recovered", rep)
			}
			if tc.retry {
				var entry int
				if err := e.pool.QueryRow(ctx, `SELECT id FROM imagenes_papelera WHERE NOT sin_archivo`).Scan(&entry); err != nil {
					t.Fatalf("after the pass, the retried delete's entry holding the file: %v", err)
				}
				if got := e.restore(entry); got.status != 200 {
					t.Fatalf("restore %d: got %d %s, want 200", entry, got.status, got.body)
				}
			}
			if got := e.do(t, req{method: "GET", path: url}); got.status != 200 || !e.rowExists(id) {
				t.Errorf("GET %s: %d, row %v; want the image live under its row", url, got.status, e.rowExists(id))
			}
			if keys := bucketKeys(t, direct); len(keys) != 1 || keys[0] != url[1:] {
				t.Errorf("bucket holds %v, want only %s", keys, url[1:])
			}
		})
	}
}

// bucketKeys lists the image objects in s's bucket (the marker left out).
func bucketKeys(t testing.TB, s *objstore.Store) []string {
	t.Helper()
	var keys []string
	for oi := range s.Client().ListObjects(context.Background(), s.Bucket(), minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		if oi.Key != storage.MarkerName {
			keys = append(keys, oi.Key)
		}
	}
	return keys
}
