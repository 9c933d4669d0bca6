package crashtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/storage"
)

// Store is what the invariants read of a storage: every key (a path below
// the root: "recursos/…", ".papelera/…"), whether one exists, its bytes. A
// folder (Dir) and storagetest.Kit (a folder or a bucket) are ones.
type Store interface {
	Keys(t testing.TB) []string
	Exists(t testing.TB, key string) bool
	Read(t testing.TB, key string) []byte
}

// CheckInvariants is CheckStore on the folder root.
func CheckInvariants(t testing.TB, pool *pgxpool.Pool, root string, stored map[string]bool, when string) {
	t.Helper()
	CheckStore(t, pool, Dir(root), stored, when)
}

// CheckStore reports on t (as errors, so that every broken one is listed)
// what a crash, a soak or a race must never leave behind, once the service
// and its janitors are at rest: a row whose local file is not in place; a
// live file without a row; a trash file without its entry, or an entry with
// a file that is not in the trash; an image whose content hash is in stored
// (an upload that got its 201 and has not left the tracked set) that is
// neither live nor in the trash. when prefixes every message.
func CheckStore(t testing.TB, pool *pgxpool.Pool, s Store, stored map[string]bool, when string) {
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
		if storage.IsLocal(u) && !s.Exists(t, u[1:]) {
			t.Errorf("%s: row %s has no live file", when, u)
		}
	}
	r.Close()
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	keys := s.Keys(t)
	for _, k := range keys {
		if strings.HasPrefix(k, "recursos/") && !rows["/"+k] {
			t.Errorf("%s: live file %s has no row", when, k)
		}
	}
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
		if !sin && storage.IsLocal(u) && !s.Exists(t, ".papelera/"+name) {
			t.Errorf("%s: trash entry %d has no file %s", when, id, name)
		}
	}
	r.Close()
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if name, ok := strings.CutPrefix(k, ".papelera/"); ok && !names[name] {
			t.Errorf("%s: trash file %s has no entry", when, name)
		}
	}
	present := HashesOf(t, s, "")
	for sum := range stored {
		if _, ok := present[sum]; !ok {
			t.Errorf("%s: an uploaded image (sha256 %s…) is neither live nor in the trash", when, sum[:12])
		}
	}
}

// HashesOf returns the sha256 (hex) of every file of s whose key starts
// with prefix ("" for all) and whose name does not start with a dot (the
// marker), mapped to its key.
func HashesOf(t testing.TB, s Store, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range s.Keys(t) {
		if !strings.HasPrefix(k, prefix) || strings.HasPrefix(path.Base(k), ".") {
			continue
		}
		sum := sha256.Sum256(s.Read(t, k))
		out[hex.EncodeToString(sum[:])] = k
	}
	return out
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

// Dir is a folder as a Store; staging (.tmp) is left out of its keys.
type Dir string

// Keys lists every regular file below the folder.
func (d Dir) Keys(t testing.TB) []string {
	t.Helper()
	var keys []string
	err := filepath.WalkDir(string(d), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			rel, _ := filepath.Rel(string(d), p)
			if rel = filepath.ToSlash(rel); !strings.HasPrefix(rel, ".tmp/") {
				keys = append(keys, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", d, err)
	}
	return keys
}

// Exists reports whether key is there.
func (d Dir) Exists(t testing.TB, key string) bool {
	t.Helper()
	_, err := os.Lstat(filepath.Join(string(d), filepath.FromSlash(key)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat %s: %v", key, err)
	}
	return err == nil
}

// Read returns key's bytes.
func (d Dir) Read(t testing.TB, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(string(d), filepath.FromSlash(key)))
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}
