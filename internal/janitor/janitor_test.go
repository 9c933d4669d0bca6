package janitor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
	"github.com/imagenes/imagenes/internal/trash"
)

// fixture is one test's database, storage and janitor. The storage is a
// folder, or a bucket on the test MinIO under IMAGENES_TEST_STORAGE=s3
// (make test runs this package on both).
type fixture struct {
	t     testing.TB
	pool  *pgxpool.Pool
	store *repo.Store
	files storage.Backend
	kit   *storagetest.Kit
	proto *trash.Service
	cat   *catalog.Service
	reg   *prometheus.Registry // the domain's metrics, the janitor's deletes among them
	j     *janitor.Janitor
	root  string // the folder (disk only)
	clock func() time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureOn(t, storagetest.KindFromEnv(t))
}

func newFixtureOn(t testing.TB, kind string) *fixture {
	t.Helper()
	return newFixtureWith(t, storagetest.New(t, kind))
}

// newFixtureWith is a fixture on kit's storage.
func newFixtureWith(t testing.TB, kit *storagetest.Kit) *fixture {
	t.Helper()
	store, pool := dbtest.NewStore(t)
	if err := kit.WriteMarker(t.Context()); err != nil {
		t.Fatal(err)
	}
	log := zap.NewNop()
	// The backend itself, not the kit: optional methods (the thumbnail
	// cache) are found by type assertion.
	files := kit.Backend
	proto := trash.New(store, files, log)
	reg := prometheus.NewRegistry()
	domain := catalog.NewMetrics(reg)
	// Objects are as old as the server says: a pass runs ahead instead.
	clock := func() time.Time { return time.Now().Add(kit.Skew()) }
	return &fixture{t: t, pool: pool, store: store, files: files, kit: kit, proto: proto, root: kit.Dir, clock: clock, reg: reg,
		cat: catalog.New(proto, files, domain),
		j: janitor.New(janitor.Deps{Store: store, Files: files, Protocol: proto, PassLock: repo.NewPassLocks(pool),
			Now: clock, Log: log, Metrics: janitor.NewMetrics(prometheus.NewRegistry()), Trashed: domain})}
}

// cfg is a pass configuration whose clocks leave everything alone unless a
// test ages it on purpose.
func cfg() janitor.Config {
	return janitor.Config{Retention: 168 * time.Hour, OrphanGrace: time.Hour, UnattachedTTL: 24 * time.Hour, MaxOrphans: 1000, BatchSize: 3}
}

var old = time.Now().Add(-48 * time.Hour)

// file writes a live file for url, aged to old.
func (f *fixture) file(url string) {
	f.t.Helper()
	f.kit.Put(f.t, key(url), []byte("img:"+url), time.Since(old))
}

// live is the path of url's file (disk only: benchmarks).
func (f *fixture) live(url string) string { return filepath.Join(f.root, filepath.FromSlash(url)) }

// age makes url's file old: on disk by its time; on s3 the pass's clock
// runs ahead already (Kit.Skew).
func (f *fixture) age(url string) error {
	if f.kit.Kind != storagetest.Disk {
		return nil
	}
	return os.Chtimes(f.live(url), old, old)
}

// isLive reports whether url has its live file.
func (f *fixture) isLive(url string) bool { return f.kit.Live(f.t, url) }

// key is url's key below the storage root; trashKey a trash file's.
func key(url string) string       { return url[1:] }
func trashKey(name string) string { return ".papelera/" + name }

// image makes a row (attached to a product unless unattached) with a file.
func (f *fixture) image(unattached bool) (int32, string) {
	f.t.Helper()
	return f.imageAt(storage.NewImageURL("png"), unattached)
}

// longURL is a local url of 255 bytes, the column's width, whose file name
// (245 bytes) ends in last: too long to keep whole in a trash name.
func longURL(last string) string {
	return "/recursos/" + strings.Repeat("v", 245-len(last)-len(".png")) + last + ".png"
}

// imageAt makes a row for url (as a Balsamoa shop's data has them) with a
// file.
func (f *fixture) imageAt(url string, unattached bool) (int32, string) {
	f.t.Helper()
	f.file(url)
	var pid *int32
	if !unattached {
		var id int32
		if err := f.pool.QueryRow(context.Background(), `INSERT INTO productos (nombre, precio) VALUES ('p', 1) RETURNING id`).Scan(&id); err != nil {
			f.t.Fatal(err)
		}
		pid = &id
	}
	img, err := f.store.InsertImagen(context.Background(), repo.NuevaImagen{URL: url, ProductoID: pid, Orden: 1})
	if err != nil {
		f.t.Fatal(err)
	}
	return img.ID, url
}

// trashed makes an image and deletes it through the protocol.
func (f *fixture) trashed() (repo.Entrada, string) {
	f.t.Helper()
	id, url := f.image(false)
	e, err := f.cat.DeleteImagen(context.Background(), id, repo.All, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return e, url
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (f *fixture) trashFiles() []string {
	f.t.Helper()
	return f.kit.Trash(f.t)
}

// state is every row, entry and file, to compare before and after.
func (f *fixture) state() string {
	f.t.Helper()
	files := f.kit.Keys(f.t)
	var rows, entries []string
	r, _ := f.pool.Query(context.Background(), `SELECT id || ' ' || url || ' ' || coalesce(producto_id::text, '-') FROM producto_imagenes ORDER BY id`)
	for r.Next() {
		var s string
		r.Scan(&s) //nolint:errcheck // test listing
		rows = append(rows, s)
	}
	r.Close()
	r, _ = f.pool.Query(context.Background(), `SELECT id || ' ' || url || ' ' || sin_archivo FROM imagenes_papelera ORDER BY id`)
	for r.Next() {
		var s string
		r.Scan(&s) //nolint:errcheck // test listing
		entries = append(entries, s)
	}
	r.Close()
	return fmt.Sprintf("files %v\nrows %v\nentries %v", files, rows, entries)
}

// counts are the report fields a scenario checks.
type counts struct {
	recovered, purged, orphans, unattached, dangling, repaired, adopted, missing, inFlight, staging, thumbnails int
}

// trashedMetric reads imagenes_trashed_total{motivo} of the domain's metrics.
func (f *fixture) trashedMetric(t *testing.T, motivo string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "imagenes_trashed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == motivo {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func countsOf(r janitor.Report) counts {
	return counts{r.Recovered, r.Purged, r.Orphans, r.Unattached, r.Dangling, r.Repaired, r.Adopted, r.TrashMissing, r.InFlight, r.Staging, r.Thumbnails}
}

func TestPassSteps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(f *fixture) func(t *testing.T) // returns the check after the pass
		cfg   func(c *janitor.Config)
		want  counts
	}{
		{name: "consistent: nothing to do", setup: func(f *fixture) func(*testing.T) {
			for i := 0; i < 5; i++ {
				f.image(false)
			}
			f.trashed()
			before := f.state()
			return func(t *testing.T) {
				if after := f.state(); after != before {
					t.Errorf("state changed:\n%s\n%s", before, after)
				}
			}
		}},
		{name: "recover: a delete that moved its file and never committed", setup: func(f *fixture) func(*testing.T) {
			id, url := f.image(false)
			// The file is in the trash under an entry id that never committed.
			name := storage.TrashName(987654, time.Now(), url)
			f.kit.Move(f.t, key(url), trashKey(name))
			return func(t *testing.T) {
				if !f.isLive(url) {
					t.Errorf("image %d: file not back in place", id)
				}
				if n := len(f.trashFiles()); n != 0 {
					t.Errorf("got %d trash files, want 0", n)
				}
			}
		}, want: counts{recovered: 1}},
		{name: "recover: a rename into the trash lost after the commit", setup: func(f *fixture) func(*testing.T) {
			f.image(false)
			e, url := f.trashed()
			name := storage.TrashName(e.ID, e.EliminadoEn, url)
			f.kit.Move(f.t, trashKey(name), key(url))
			return func(t *testing.T) {
				if !f.kit.Exists(t, trashKey(name)) {
					t.Errorf("file not moved into the trash under its entry's name")
				}
				if f.isLive(url) {
					t.Errorf("live file still there")
				}
			}
		}, want: counts{recovered: 1}},
		{name: "recover: a trash file without entry or row gets an entry", setup: func(f *fixture) func(*testing.T) {
			url := storage.NewImageURL("png")
			name := storage.TrashName(555555, time.Now(), url)
			f.kit.Put(f.t, trashKey(name), []byte("x"), 0)
			return func(t *testing.T) {
				var id int64
				var at time.Time
				if err := f.pool.QueryRow(context.Background(), `SELECT id, eliminado_en FROM imagenes_papelera WHERE url = $1`, url).Scan(&id, &at); err != nil {
					t.Fatalf("no entry for %s: %v", url, err)
				}
				if got := f.trashFiles(); len(got) != 1 || got[0] != storage.TrashName(id, at, url) {
					t.Errorf("got trash %v, want the file under its new entry's name", got)
				}
				if _, err := f.cat.Restore(context.Background(), id); err != nil {
					t.Errorf("restore of the adopted file: %v", err)
				}
			}
		}, want: counts{adopted: 1}},
		{name: "recover: the file of an aborted orphan move keeps its name", setup: func(f *fixture) func(*testing.T) {
			// Its name carries an entry id the sequence handed out and no
			// entry holds: the entry takes it, so nothing is renamed (on a
			// bucket a copy and a delete, which a crash could cut in two).
			url := storage.NewImageURL("png")
			name := storage.TrashName(f.lostEntryID(), time.Now(), url)
			f.kit.Put(f.t, trashKey(name), []byte("x"), 0)
			return func(t *testing.T) {
				if got := f.trashFiles(); len(got) != 1 || got[0] != name {
					t.Errorf("got trash %v, want %s as it was", got, name)
				}
				var id int64
				var at time.Time
				if err := f.pool.QueryRow(context.Background(), `SELECT id, eliminado_en FROM imagenes_papelera WHERE url = $1`, url).Scan(&id, &at); err != nil {
					t.Fatalf("no entry for %s: %v", url, err)
				}
				if storage.TrashName(id, at, url) != name {
					t.Errorf("entry %d names %s, want %s", id, storage.TrashName(id, at, url), name)
				}
			}
		}, want: counts{adopted: 1}},
		{name: "purge: entries past retention, files and all", setup: func(f *fixture) func(*testing.T) {
			for i := 0; i < 4; i++ {
				f.trashed()
			}
			f.image(false)
			return func(t *testing.T) {
				if n := len(f.trashFiles()); n != 0 {
					t.Errorf("got %d trash files, want 0", n)
				}
				if n := f.count(`SELECT count(*) FROM imagenes_papelera`); n != 0 {
					t.Errorf("got %d entries, want 0", n)
				}
			}
		}, cfg: func(c *janitor.Config) { c.Retention = time.Nanosecond }, want: counts{purged: 4}},
		{name: "purge: young entries stay", setup: func(f *fixture) func(*testing.T) {
			f.trashed()
			return func(t *testing.T) {
				if n := len(f.trashFiles()); n != 1 {
					t.Errorf("got %d trash files, want 1", n)
				}
			}
		}},
		{name: "orphans: old ones move", setup: func(f *fixture) func(*testing.T) {
			f.image(false)
			orphan := storage.NewImageURL("png")
			f.file(orphan)
			return func(t *testing.T) {
				if f.isLive(orphan) {
					t.Errorf("old orphan still live")
				}
				if n := f.count(`SELECT count(*) FROM imagenes_papelera WHERE url = $1 AND motivo = 'huerfana'`, orphan); n != 1 {
					t.Errorf("got %d entries for the orphan, want 1", n)
				}
			}
		}, want: counts{orphans: 1}},
		{name: "orphans: young ones stay", setup: func(f *fixture) func(*testing.T) {
			f.image(false)
			young := storage.NewImageURL("png")
			f.kit.Put(f.t, key(young), []byte("young"), 0) // written now: within the grace on either clock
			return func(t *testing.T) {
				if !f.isLive(young) {
					t.Errorf("young orphan moved")
				}
			}
		}, cfg: func(c *janitor.Config) { c.OrphanGrace = 3 * time.Hour }},
		{name: "unattached: old rows go, attached and legacy rows stay", setup: func(f *fixture) func(*testing.T) {
			stale, staleURL := f.image(true)
			f.exec(`UPDATE producto_imagenes SET created_at = now() - interval '3 days' WHERE id = $1`, stale)
			fresh, _ := f.image(true)
			legacy, _ := f.image(true)
			f.exec(`UPDATE producto_imagenes SET created_at = NULL WHERE id = $1`, legacy)
			attached, _ := f.image(false)
			f.exec(`UPDATE producto_imagenes SET created_at = now() - interval '3 days' WHERE id = $1`, attached)
			return func(t *testing.T) {
				if n := f.count(`SELECT count(*) FROM producto_imagenes WHERE id = ANY($1)`, []int32{fresh, legacy, attached}); n != 3 {
					t.Errorf("got %d of the fresh, legacy and attached rows, want 3", n)
				}
				if f.isLive(staleURL) {
					t.Errorf("stale image's file still live")
				}
			}
		}, want: counts{unattached: 1}},
		{name: "unattached: TTL 0 is off", setup: func(f *fixture) func(*testing.T) {
			stale, _ := f.image(true)
			f.exec(`UPDATE producto_imagenes SET created_at = now() - interval '300 days' WHERE id = $1`, stale)
			return func(*testing.T) {}
		}, cfg: func(c *janitor.Config) { c.UnattachedTTL = 0 }},
		{name: "dangling: reported, not removed", setup: func(f *fixture) func(*testing.T) {
			id, url := f.image(false)
			f.kit.Remove(f.t, key(url))
			return func(t *testing.T) {
				if n := f.count(`SELECT count(*) FROM producto_imagenes WHERE id = $1`, id); n != 1 {
					t.Errorf("dangling row removed without --repair-dangling")
				}
			}
		}, want: counts{dangling: 1}},
		{name: "dangling: --repair-dangling trashes the row", setup: func(f *fixture) func(*testing.T) {
			id, url := f.image(false)
			f.kit.Remove(f.t, key(url))
			return func(t *testing.T) {
				if n := f.count(`SELECT count(*) FROM imagenes_papelera WHERE imagen_id = $1 AND sin_archivo`, id); n != 1 {
					t.Errorf("got %d sin_archivo entries for the row, want 1", n)
				}
			}
		}, cfg: func(c *janitor.Config) { c.RepairDangling = true }, want: counts{dangling: 1, repaired: 1}},
		{name: "thumbnails: cached ones of a gone original go", setup: func(f *fixture) func(*testing.T) {
			k := ".miniaturas/64/imagenes/productos/zz/gone.png.png"
			f.kit.Put(f.t, k, []byte("thumb"), 0)
			return func(t *testing.T) {
				if f.kit.Exists(t, k) {
					t.Errorf("thumbnail of a gone original still there")
				}
			}
		}, want: counts{thumbnails: 1}},
		// Long file names (issue 12): their trash names are shortened, and
		// every step that reads a trash name finds the url again.
		{name: "long name: recover a delete that moved its file and never committed", setup: func(f *fixture) func(*testing.T) {
			id, url := f.imageAt(longURL("1"), false)
			_, twin := f.imageAt(longURL("2"), false) // begins alike: the hash tells them apart
			name := storage.TrashName(f.lostEntryID(), time.Now(), url)
			f.kit.Move(f.t, key(url), trashKey(name))
			return func(t *testing.T) {
				if !f.isLive(url) || !f.isLive(twin) || len(f.trashFiles()) != 0 {
					t.Errorf("image %d live %v, its twin live %v, trash %v; want both live, the trash empty", id, f.isLive(url), f.isLive(twin), f.trashFiles())
				}
				if got := f.kit.Read(t, key(url)); string(got) != "img:"+url {
					t.Errorf("image %d got the bytes %.20q…, want its own", id, got)
				}
			}
		}, want: counts{recovered: 1}},
		{name: "long name: an aborted delete's file joins the later delete's entry", setup: func(f *fixture) func(*testing.T) {
			id, url := f.imageAt(longURL("1"), false)
			f.imageAt(longURL("2"), false)
			f.kit.Move(f.t, key(url), trashKey(storage.TrashName(f.lostEntryID(), time.Now(), url)))
			e, err := f.cat.DeleteImagen(context.Background(), id, repo.All, "test")
			if err != nil || !e.SinArchivo {
				f.t.Fatalf("later delete: %+v %v, want sin_archivo", e, err)
			}
			return func(t *testing.T) {
				name := storage.TrashName(e.ID, e.EliminadoEn, url)
				if got := f.trashFiles(); len(got) != 1 || got[0] != name {
					t.Errorf("trash %v, want only %s", got, name)
				}
				if _, err := f.cat.Restore(context.Background(), e.ID); err != nil || !f.isLive(url) {
					t.Errorf("restore: %v, live %v", err, f.isLive(url))
				}
			}
		}, want: counts{recovered: 1}},
		{name: "long name: a trash file without entry or row gets an entry whose url fits", setup: func(f *fixture) func(*testing.T) {
			f.image(false)
			url := longURL("1")
			name := storage.TrashName(f.lostEntryID(), time.Now(), url)
			f.kit.Put(f.t, trashKey(name), []byte("x"), 0)
			return func(t *testing.T) {
				var e repo.Entrada
				var got string
				if err := f.pool.QueryRow(context.Background(), `SELECT id, eliminado_en, url FROM imagenes_papelera WHERE motivo = 'recuperada'`).Scan(&e.ID, &e.EliminadoEn, &got); err != nil {
					t.Fatalf("no entry for the adopted file: %v", err)
				}
				if _, err := storage.RelPath(got); err != nil {
					t.Fatalf("adopted url %q: %v", got, err)
				}
				if trash := f.trashFiles(); len(trash) != 1 || trash[0] != name || trash[0] != storage.TrashName(e.ID, e.EliminadoEn, got) {
					t.Errorf("got trash %v, want the file under its own name %s, its new entry's", trash, name)
				}
				if _, err := f.cat.Restore(context.Background(), e.ID); err != nil || !f.isLive(got) {
					t.Errorf("restore of the adopted file: %v, live %v", err, f.isLive(got))
				}
			}
		}, want: counts{adopted: 1}},
		{name: "long name: purge past retention", setup: func(f *fixture) func(*testing.T) {
			for _, u := range []string{longURL("1"), longURL("2"), longURL("3")} {
				id, _ := f.imageAt(u, false)
				if _, err := f.cat.DeleteImagen(context.Background(), id, repo.All, "test"); err != nil {
					f.t.Fatal(err)
				}
			}
			f.image(false)
			return func(t *testing.T) {
				if got := f.trashFiles(); len(got) != 0 {
					t.Errorf("got trash %v, want it empty", got)
				}
			}
		}, cfg: func(c *janitor.Config) { c.Retention = time.Nanosecond }, want: counts{purged: 3}},
		{name: "long name: an unattached row goes to the trash", setup: func(f *fixture) func(*testing.T) {
			f.image(false)
			// Only product images are unattached candidates: under
			// productos/ a file name has at most 226 bytes, too long
			// behind an entry id of 18 digits.
			f.exec(`SELECT setval(pg_get_serial_sequence('imagenes_papelera', 'id'), 100000000000000000)`)
			u := storage.ProductPrefix + strings.Repeat("v", 255-len(storage.ProductPrefix)-len(".png")) + ".png"
			stale, url := f.imageAt(u, true)
			f.exec(`UPDATE producto_imagenes SET created_at = now() - interval '3 days' WHERE id = $1`, stale)
			return func(t *testing.T) {
				var e repo.Entrada
				if err := f.pool.QueryRow(context.Background(), `SELECT id, eliminado_en FROM imagenes_papelera WHERE imagen_id = $1 AND NOT sin_archivo`, stale).Scan(&e.ID, &e.EliminadoEn); err != nil {
					t.Fatalf("no entry with its file: %v", err)
				}
				if f.isLive(url) || !f.kit.Exists(t, trashKey(storage.TrashName(e.ID, e.EliminadoEn, url))) {
					t.Errorf("live %v, trash %v; want the file in the trash under its entry", f.isLive(url), f.trashFiles())
				}
			}
		}, want: counts{unattached: 1}},
		{name: "entry whose file is nowhere is reported", setup: func(f *fixture) func(*testing.T) {
			e, url := f.trashed()
			f.kit.Remove(f.t, trashKey(storage.TrashName(e.ID, e.EliminadoEn, url)))
			return func(*testing.T) {}
		}, want: counts{missing: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			check := tt.setup(f)
			c := cfg()
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			// A dry run first: same counts and items, nothing changed.
			c.List = true
			before := f.state()
			dc := c
			dc.DryRun = true
			dry, err := f.j.Run(context.Background(), dc)
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if got := countsOf(dry); got != tt.want {
				t.Errorf("dry run: got %+v, want %+v", got, tt.want)
			}
			if after := f.state(); after != before {
				t.Errorf("dry run changed the state:\n%s\n%s", before, after)
			}
			rep, err := f.j.Run(context.Background(), c)
			if err != nil {
				t.Fatalf("pass: %v", err)
			}
			if got := countsOf(rep); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if diff := cmp.Diff(itemURLs(dry), itemURLs(rep)); diff != "" {
				t.Errorf("the dry run listed other items than the pass (-dry +pass):\n%s", diff)
			}
			check(t)
			// A second pass finds nothing more to do (dangling rows, when
			// not repaired, and lost entries stay reported).
			again, err := f.j.Run(context.Background(), c)
			if err != nil {
				t.Fatalf("second pass: %v", err)
			}
			want := counts{dangling: tt.want.dangling - tt.want.repaired, missing: tt.want.missing}
			if got := countsOf(again); got != want {
				t.Errorf("second pass: got %+v, want %+v", got, want)
			}
			// The images the passes trashed are counted with the domain's
			// metrics, like any other delete.
			for motivo, n := range map[string]int{repo.MotivoHuerfana: tt.want.orphans,
				repo.MotivoSinProducto: tt.want.unattached, repo.MotivoColgante: tt.want.repaired} {
				if got := f.trashedMetric(t, motivo); got != float64(n) {
					t.Errorf("imagenes_trashed_total{motivo=%q} = %v, want %d", motivo, got, n)
				}
			}
		})
	}
}

// The crash window: a delete that moved its file but has not committed is
// left alone while its transaction lives (it holds the row lock), and put
// back by the next pass once its process died.
func TestCrashWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id, url := f.image(false)
	ctx := context.Background()
	conn, err := f.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	es, err := repo.New(tx).TrashImagenes(ctx, []int32{id}, repo.All, repo.MotivoImagen, "crash")
	if err != nil || len(es) != 1 {
		t.Fatalf("delete: %v %v", es, err)
	}
	if moved, err := f.files.MoveToTrash(t.Context(), url, storage.TrashName(es[0].ID, es[0].EliminadoEn, url)); err != nil || !moved {
		t.Fatalf("move: %v %v", moved, err)
	}
	var pid int
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}

	rep, err := f.j.Run(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	// Both recover (its trash file) and dangling (its row) see it in flight.
	if rep.Recovered != 0 || rep.InFlight != 2 || rep.Dangling != 0 {
		t.Errorf("in flight: got %+v, want it left alone (in_flight 2)", countsOf(rep))
	}
	if f.isLive(url) {
		t.Fatalf("the in-flight delete's file was put back under it")
	}

	// The process dies: its backend is terminated, nothing undoes the move.
	// With a timeout PostgreSQL waits until the backend is gone (and with
	// it its locks) before answering, so the next pass meets no lock.
	if f.count(`SELECT count(*) FROM (SELECT pg_terminate_backend($1, 5000) AS gone) t WHERE gone`, pid) != 1 {
		t.Fatal("terminated backend still there after 5s")
	}
	rep, err = f.j.Run(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recovered != 1 {
		t.Errorf("after the crash: got %+v, want recovered 1", countsOf(rep))
	}
	if !f.isLive(url) {
		t.Errorf("file not back after the crash")
	}
	if n := f.count(`SELECT count(*) FROM producto_imagenes WHERE id = $1`, id); n != 1 {
		t.Errorf("row gone: the delete never committed")
	}
}

// An upload between its file write and its commit holds its url's lock:
// the janitor does not take its file for an orphan, however old the file.
func TestUploadInFlightIsNoOrphan(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.image(false)
	url := storage.NewImageURL("png")
	ctx := context.Background()
	release := make(chan struct{})
	locked := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- f.proto.Run(ctx, func(tx *trash.Tx) error {
			png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
			st, err := f.files.Stage(t.Context(), bytes.NewReader(png), 1<<20, []string{"image/png"})
			if err != nil {
				return err
			}
			if _, err := tx.PublishUpload(ctx, st, repo.NuevaImagen{URL: url, Orden: 1}); err != nil {
				return err
			}
			// The file is published, the row not committed; aged past
			// the grace period, so only the lock keeps it from the janitor.
			if err := f.age(url); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	rep, err := f.j.Run(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rep.Orphans != 0 || rep.InFlight != 1 {
		t.Errorf("got %+v, want no orphan and one in flight", countsOf(rep))
	}
	if !f.isLive(url) {
		t.Errorf("the upload's file was moved")
	}
}

// Two passes started at once do the work once.
func TestConcurrentPasses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.image(false)
	for i := 0; i < 30; i++ {
		f.file(storage.NewImageURL("png"))
	}
	other := janitor.New(janitor.Deps{Store: f.store, Files: f.files, Protocol: f.proto, PassLock: repo.NewPassLocks(f.pool), Now: f.clock, Log: zap.NewNop()})
	var wg sync.WaitGroup
	reps := make([]janitor.Report, 4)
	errs := make([]error, 4)
	for i := range reps {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			j := f.j
			if i%2 == 1 {
				j = other
			}
			reps[i], errs[i] = j.Run(context.Background(), cfg())
		}(i)
	}
	wg.Wait()
	total := 0
	for i, r := range reps {
		if errs[i] != nil {
			t.Fatalf("pass %d: %v", i, errs[i])
		}
		total += r.Orphans
	}
	if total != 30 {
		t.Errorf("got %d orphans moved in all, want 30 (reports %+v)", total, reps)
	}
	if n := f.count(`SELECT count(*) FROM imagenes_papelera`); n != 30 {
		t.Errorf("got %d entries, want 30", n)
	}
	// While one process holds the pass lock, another skips and says so.
	lock, ok, err := repo.NewPassLocks(f.pool).TryLock(context.Background())
	if err != nil || !ok {
		t.Fatalf("take the pass lock: %v %v", ok, err)
	}
	defer lock.Release(context.Background())
	rep, err := f.j.Run(context.Background(), cfg())
	if err != nil || !rep.Skipped {
		t.Errorf("got %+v %v, want a skipped pass", rep, err)
	}
}

func TestFailClosed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(f *fixture)
		cfg     func(c *janitor.Config)
		want    error // a refusal; nil with stopped false: the pass succeeds
		stopped bool  // the pass stops on an error that is no refusal (the database's)
		orphans int
	}{
		{name: "no storage marker", setup: func(f *fixture) {
			f.image(false)
			f.file(storage.NewImageURL("png"))
			f.kit.Remove(f.t, storage.MarkerName)
		}, want: janitor.ErrNoMarker},
		{name: "empty table, full folder", setup: func(f *fixture) {
			f.file(storage.NewImageURL("png"))
			f.file(storage.NewImageURL("png"))
		}, want: janitor.ErrEmptyTable},
		{name: "more orphans than the limit", setup: func(f *fixture) {
			f.image(false)
			for i := 0; i < 5; i++ {
				f.file(storage.NewImageURL("png"))
			}
		}, cfg: func(c *janitor.Config) { c.MaxOrphans = 4 }, want: janitor.ErrTooManyOrphans},
		{name: "more orphans than the limit, forced", setup: func(f *fixture) {
			f.image(false)
			for i := 0; i < 5; i++ {
				f.file(storage.NewImageURL("png"))
			}
		}, cfg: func(c *janitor.Config) { c.MaxOrphans = 4; c.Force = true }, orphans: 5},
		{name: "at the limit", setup: func(f *fixture) {
			f.image(false)
			for i := 0; i < 4; i++ {
				f.file(storage.NewImageURL("png"))
			}
		}, cfg: func(c *janitor.Config) { c.MaxOrphans = 4 }, orphans: 4},
		{name: "database error", setup: func(f *fixture) {
			f.image(false)
			f.file(storage.NewImageURL("png"))
			f.exec(`ALTER TABLE imagenes_papelera RENAME TO papelera_perdida`)
		}, stopped: true},
		// The rows the walk is merged with cannot be read: a pass that took
		// the short answer for "no rows" would call the file an orphan and
		// refuse for too many; it must stop on the database's error.
		{name: "rows unreadable", setup: func(f *fixture) {
			f.image(false)
			f.file(storage.NewImageURL("png"))
			f.exec(`ALTER TABLE producto_imagenes RENAME COLUMN url TO ruta`)
		}, cfg: func(c *janitor.Config) { c.MaxOrphans = 0 }, stopped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tt.setup(f)
			c := cfg()
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			before := f.state()
			rep, err := f.j.Run(context.Background(), c)
			switch {
			case tt.stopped:
				if err == nil || errors.Is(err, janitor.ErrRefused) || rep.Error == "" {
					t.Fatalf("got %v (report error %q), want the pass stopped by the database error", err, rep.Error)
				}
			case tt.want != nil:
				if !errors.Is(err, tt.want) || rep.Refused == "" {
					t.Fatalf("got %v (refused %q), want %v", err, rep.Refused, tt.want)
				}
			case err != nil:
				t.Fatalf("got %v, want a pass", err)
			}
			if rep.Orphans != tt.orphans {
				t.Errorf("got %d orphans moved, want %d", rep.Orphans, tt.orphans)
			}
			if err != nil {
				if after := f.state(); after != before {
					t.Errorf("a refused pass changed the state:\n%s\n%s", before, after)
				}
			}
		})
	}
}

// The staging step, dry and real: a dry run counted 0 for an old staging
// file the real pass removes. Staging is the folder's .tmp (a bucket's
// spool is a local temporary folder of the process), so this runs on disk
// in both of make test's runs.
func TestStagingDryRunAsPass(t *testing.T) {
	t.Parallel()
	f := newFixtureOn(t, storagetest.Disk)
	f.image(false)
	stale := filepath.Join(f.root, ".tmp", "upload-died.part")
	young := filepath.Join(f.root, ".tmp", "upload-running.part")
	for _, p := range []string{stale, young} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	c := cfg()
	c.List = true
	for _, dry := range []bool{true, false} {
		c.DryRun = dry
		rep, err := f.j.Run(context.Background(), c)
		if err != nil {
			t.Fatalf("dry run %v: %v", dry, err)
		}
		if got := countsOf(rep); got != (counts{staging: 1}) {
			t.Errorf("dry run %v: got %+v, want staging 1", dry, got)
		}
		if got := itemURLs(rep)["staging"]; len(got) != 1 || got[0] != ".tmp/upload-died.part" {
			t.Errorf("dry run %v: got staging items %v, want [.tmp/upload-died.part]", dry, got)
		}
		if _, err := os.Stat(stale); (err == nil) != dry {
			t.Errorf("dry run %v: old staging file there = %v", dry, err == nil)
		}
		if _, err := os.Stat(young); err != nil {
			t.Errorf("dry run %v: young staging file removed: %v", dry, err)
		}
	}
}
