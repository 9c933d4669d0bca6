package janitor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

// purgeFixture is a fixture whose bucket (on s3) is reached through a
// proxy that counts the requests and can report one key's delete failed.
type purgeFixture struct {
	*fixture
	proxy *s3test.Proxy // nil on disk
}

func newPurgeFixture(t testing.TB, kind string) purgeFixture {
	t.Helper()
	if kind != storagetest.S3 {
		return purgeFixture{fixture: newFixtureOn(t, kind)}
	}
	o := s3test.Bucket(t)
	px := s3test.NewProxy(t, o.Endpoint)
	o.Endpoint = px.Endpoint()
	return purgeFixture{fixture: newFixtureWith(t, storagetest.NewS3(t, o)), proxy: px}
}

// expired makes n trash entries with their trash files, expired for any
// retention the pass is given (Retention: time.Nanosecond).
func (f purgeFixture) expired(n int) []repo.Entrada {
	f.t.Helper()
	hs := make([]repo.Huerfana, n)
	for i := range hs {
		hs[i] = repo.Huerfana{URL: storage.NewImageURL("png"), Bytes: 3, ModTime: time.Now()}
	}
	es, err := f.store.InsertHuerfanas(context.Background(), hs, "test")
	if err != nil || len(es) != n {
		f.t.Fatalf("insert %d entries: %d, %v", n, len(es), err)
	}
	keys := make([]string, n)
	for i, e := range es {
		keys[i] = trashKey(storage.TrashName(e.ID, e.EliminadoEn, e.URL))
	}
	f.kit.PutMany(f.t, keys, []byte("img"))
	return es
}

// purgeCfg is the production batch size (JANITOR_BATCH_SIZE's default)
// with every entry expired.
func purgeCfg() janitor.Config {
	c := cfg()
	c.BatchSize = 1000
	c.Retention = time.Nanosecond
	return c
}

// Expired trash entries are purged with their files in multi-object
// deletes on a bucket: K entries cost at most K/500 + 30 requests for the
// whole pass (one DELETE each cost K + 25). A key whose removal the store
// reports failed keeps its entry — an entry is never deleted while its file
// may remain — and the next pass purges it. On both backends
// (IMAGENES_TEST_STORAGE); the requests are counted on the bucket, where
// they cost.
func TestBatchedPurge(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		n    int
		fail bool // one key's removal fails in the first pass
	}{
		{name: "2 500 expired entries", n: 2500},
		{name: "a key that fails stays with its entry for the next pass", n: 1200, fail: true},
	}
	kind := storagetest.KindFromEnv(t) // make test runs this suite on both
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newPurgeFixture(t, kind)
			es := f.expired(tc.n)
			bad := es[tc.n/2]
			badName := storage.TrashName(bad.ID, bad.EliminadoEn, bad.URL)
			release := func() {}
			if tc.fail {
				switch kind {
				case storagetest.S3:
					f.proxy.FailDelete(trashKey(badName))
				default:
					release = storagetest.Unmovable(t, filepath.Join(f.root, filepath.FromSlash(trashKey(badName))))
				}
			}
			if f.proxy != nil {
				f.proxy.Take()
			}
			rep, err := f.j.Run(context.Background(), purgeCfg())
			if err != nil {
				t.Fatalf("pass: %v (%+v)", err, rep)
			}
			if f.proxy != nil {
				reqs := f.proxy.Take()
				if limit := tc.n/500 + 30; len(reqs) > limit {
					t.Errorf("the pass sent %d requests, want at most %d (K/500 + 30):\n%s", len(reqs), limit, summarize(reqs))
				}
				t.Logf("%d entries purged in %d requests: %s", rep.Purged, len(reqs), summarize(reqs))
			}
			wantKept := 0
			if tc.fail {
				wantKept = 1
			}
			if rep.Purged != tc.n-wantKept || rep.PurgeKept != wantKept {
				t.Fatalf("purged %d, kept %d; want %d, %d", rep.Purged, rep.PurgeKept, tc.n-wantKept, wantKept)
			}
			left := f.count(`SELECT count(*) FROM imagenes_papelera`)
			if !tc.fail {
				if left != 0 || len(f.trashFiles()) != 0 {
					t.Fatalf("%d entries and %d trash files left, want none", left, len(f.trashFiles()))
				}
				return
			}
			if left != 1 || f.count(`SELECT count(*) FROM imagenes_papelera WHERE id = $1`, bad.ID) != 1 {
				t.Fatalf("%d entries left, want only entry %d, whose file's removal failed", left, bad.ID)
			}
			if kind == storagetest.S3 {
				// The store deleted it and said it failed; had it
				// really failed, the file would be there: put it back.
				f.kit.Put(t, trashKey(badName), []byte("img"), 0)
			} else if files := f.trashFiles(); len(files) != 1 {
				t.Fatalf("trash files %v, want only %s", files, badName)
			}
			release()
			rep, err = f.j.Run(context.Background(), purgeCfg())
			if err != nil || rep.Purged != 1 || rep.PurgeKept != 0 {
				t.Fatalf("next pass: purged %d, kept %d, %v; want 1, 0", rep.Purged, rep.PurgeKept, err)
			}
			if left := f.count(`SELECT count(*) FROM imagenes_papelera`); left != 0 || len(f.trashFiles()) != 0 {
				t.Fatalf("after the next pass %d entries and trash files %v left, want none", left, f.trashFiles())
			}
		})
	}
}

// summarize counts requests by kind ("GET /b/" is a listing page).
func summarize(reqs []string) string {
	n := map[string]int{}
	var order []string
	for _, r := range reqs {
		m, p, _ := strings.Cut(r, " ")
		k := m
		switch {
		case strings.HasSuffix(p, "?delete"):
			k = "DeleteObjects"
		case m == "GET" && strings.Count(strings.Trim(p, "/"), "/") == 0:
			k = "LIST"
		}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	var b strings.Builder
	for _, k := range order {
		fmt.Fprintf(&b, "%s %d; ", k, n[k])
	}
	return b.String()
}
