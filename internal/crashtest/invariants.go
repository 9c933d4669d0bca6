package crashtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/storage"
)

// CheckInvariants reports on t (as errors, so that every broken one is
// listed) what a crash, a soak or a race must never leave behind, once the
// service and its janitors are at rest: a row whose local file is not in
// place; a live file without a row; a trash file without its entry, or an
// entry with a file that is not in the trash; an image whose content hash is
// in stored (an upload that got its 201 and has not left the tracked set)
// that is neither live nor in the trash. when prefixes every message.
func CheckInvariants(t testing.TB, pool *pgxpool.Pool, root string, stored map[string]bool, when string) {
	t.Helper()
	ctx := context.Background()
	rows := map[string]bool{}
	r, err := pool.Query(ctx, `SELECT url FROM producto_imagenes`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var u string
		if err := r.Scan(&u); err != nil {
			t.Fatal(err)
		}
		rows[u] = true
		if storage.IsLocal(u) {
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(u))); err != nil {
				t.Errorf("%s: row %s has no live file", when, u)
			}
		}
	}
	r.Close()
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(filepath.Join(root, "recursos"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			if !rows["/"+filepath.ToSlash(rel)] {
				t.Errorf("%s: live file %s has no row", when, rel)
			}
		}
		return nil
	})
	names := map[string]bool{}
	r, err = pool.Query(ctx, `SELECT id, eliminado_en, url, sin_archivo FROM imagenes_papelera`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var id int64
		var at time.Time
		var u string
		var sin bool
		if err := r.Scan(&id, &at, &u, &sin); err != nil {
			t.Fatal(err)
		}
		name := storage.TrashName(id, at, u)
		names[name] = true
		if !sin && storage.IsLocal(u) {
			if _, err := os.Stat(filepath.Join(root, ".papelera", name)); err != nil {
				t.Errorf("%s: trash entry %d has no file %s", when, id, name)
			}
		}
	}
	r.Close()
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(root, ".papelera"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !names[e.Name()] {
			t.Errorf("%s: trash file %s has no entry", when, e.Name())
		}
	}
	present := Hashes(root)
	for sum := range stored {
		if _, ok := present[sum]; !ok {
			t.Errorf("%s: an uploaded image (sha256 %s…) is neither live nor in the trash", when, sum[:12])
		}
	}
}

// Hashes returns the sha256 (hex) of every regular file under dir whose
// name does not start with a dot, mapped to its path.
func Hashes(dir string) map[string]string {
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		out[hex.EncodeToString(sum[:])] = p
		return nil
	})
	return out
}
