package storage_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

// TestConformance runs the storage conformance suite on a real folder.
func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.RunConformance(t, storagetest.Harness{
		Capabilities: storage.Capabilities{MoveConcurrency: 1, Thumbnails: true},
		Make: func(t *testing.T) storagetest.Driver {
			root := t.TempDir()
			s, err := storage.Open(root)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return storagetest.Driver{Backend: s, PutRaw: func(t *testing.T, key string, data []byte) {
				p := filepath.Join(root, filepath.FromSlash(key))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}}
		},
	})
}
