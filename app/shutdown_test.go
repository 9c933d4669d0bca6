package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/storage"
)

// SIGTERM (the context serve runs under) in the middle of 32 clients
// deleting: requests in flight finish with their answer, nothing answers
// 5xx, and every image ends either untouched or fully deleted — never a row
// without its file, a file without its row, or a delete without its entry.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	pool, dbURL := dbtest.New(t)
	root := t.TempDir()
	env := map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": root,
		"JWT_SECRET": "shutdown-secret-0123456789", "LOG_LEVEL": "error"}
	const n = 600
	if err := run(context.Background(), []string{"seed", "--n", fmt.Sprint(n)}, envOf(env), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var tok strings.Builder
	if err := run(context.Background(), []string{"token", "--sub", "admin", "--role", "admin"}, envOf(env), &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(tok.String())
	sigterm, wait := serveInBackground(t, env)
	addr := env["HTTP_ADDR"]

	var next, answered atomic.Int64
	statuses := make([]int, n+1) // by id; 0: no answer
	var wg sync.WaitGroup
	c := &http.Client{Timeout: 30 * time.Second}
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := next.Add(1)
				if id > n {
					return
				}
				req, _ := http.NewRequest("DELETE", fmt.Sprintf("http://%s/api/v1/admin/imagenes/%d", addr, id), nil)
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := c.Do(req)
				if err != nil {
					return // the server stopped taking requests
				}
				io.Copy(io.Discard, res.Body) //nolint:errcheck // draining
				res.Body.Close()
				statuses[id] = res.StatusCode
				answered.Add(1)
			}
		}()
	}
	// SIGTERM once 100 deletes were answered; if the load never gets
	// there (every client failing), stop anyway and say so below rather
	// than spin until the test binary's timeout.
	for deadline := time.Now().Add(60 * time.Second); answered.Load() < 100 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := answered.Load(); got < 100 {
		t.Errorf("only %d deletes answered within 60s; the load did not run", got)
	}
	sigterm()
	wg.Wait()
	if err := wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}

	deleted := 0
	for id := 1; id <= n; id++ {
		if s := statuses[id]; s != 0 && s != 200 {
			t.Errorf("image %d: got %d, want 200 or no answer", id, s)
		}
		var url string
		rowErr := pool.QueryRow(context.Background(), `SELECT url FROM producto_imagenes WHERE id = $1`, id).Scan(&url)
		var entry int64
		var at time.Time
		var eurl string
		entryErr := pool.QueryRow(context.Background(), `SELECT id, eliminado_en, url FROM imagenes_papelera WHERE imagen_id = $1`, id).Scan(&entry, &at, &eurl)
		switch {
		case rowErr == nil && entryErr != nil:
			if _, err := os.Stat(filepath.Join(root, url)); err != nil {
				t.Errorf("image %d: row without its live file", id)
			}
			if statuses[id] == 200 {
				t.Errorf("image %d: answered 200 but not deleted", id)
			}
		case rowErr != nil && entryErr == nil:
			deleted++
			if _, err := os.Stat(filepath.Join(root, ".papelera", storage.TrashName(entry, at, eurl))); err != nil {
				t.Errorf("image %d: deleted but its file is not in the trash", id)
			}
			if _, err := os.Stat(filepath.Join(root, eurl)); err == nil {
				t.Errorf("image %d: deleted but its live file remains", id)
			}
		default:
			t.Errorf("image %d: half-done (row: %v, entry: %v)", id, rowErr, entryErr)
		}
	}
	t.Logf("%d answered before and during shutdown, %d deleted, %d untouched", answered.Load(), deleted, n-deleted)
	if deleted < 100 {
		t.Errorf("only %d deleted; the load did not run", deleted)
	}
}
