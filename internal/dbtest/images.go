package dbtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// Images inserts one unattached image per owner (owners[i] == "" for none)
// with a fresh url, and writes its file ("img") under the storage folder
// root unless gone[i]: the world the catalog and trash tests start from.
func Images(t testing.TB, store *repo.Store, root string, owners []string, gone map[int]bool) (ids []int32, urls []string) {
	t.Helper()
	for i, o := range owners {
		url := storage.NewImageURL("png")
		if !gone[i] {
			p := filepath.Join(root, filepath.FromSlash(url))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("img"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		img, err := store.InsertImagen(context.Background(), repo.NuevaImagen{URL: url, Orden: 1, OwnerSub: o})
		if err != nil {
			t.Fatal(err)
		}
		ids, urls = append(ids, img.ID), append(urls, url)
	}
	return ids, urls
}
