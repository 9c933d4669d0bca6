package handlers_test

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBodyBurstWithoutToken: 100 concurrent 10 MiB posts to /healthz (and
// to the upload routes without a token) were read into memory before
// routing, 2.2 GB. Bodies are now refused by their headers before they are
// read: the server allocates well under the bound below for the whole burst
// (1000 MiB would be read without the gate). Not parallel, so the
// allocation counter sees this test alone.
func TestBodyBurstWithoutToken(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.listen(), "http://")
	const clients, size = 100, 10 << 20
	const boundMiB = 200
	paths := []string{"/healthz", "/api/image", "/api/v1/admin/imagenes/subir"}
	chunk := make([]byte, 64<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	statuses := make([]string, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				statuses[i] = err.Error()
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n", paths[i%len(paths)], size)
			for sent := 0; sent < size; sent += len(chunk) {
				if _, err := conn.Write(chunk); err != nil {
					break // refused and closed: what we want
				}
			}
			b, _ := io.ReadAll(io.LimitReader(conn, 512))
			statuses[i] = strings.SplitN(string(b), "\r\n", 2)[0]
		}(i)
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	allocated := (after.TotalAlloc - before.TotalAlloc) >> 20
	t.Logf("%d posts of 10 MiB: %d MiB allocated in the process", clients, allocated)
	if allocated > boundMiB {
		t.Errorf("the burst allocated %d MiB, bound %d MiB: bodies were read", allocated, boundMiB)
	}
	for i, s := range statuses {
		if strings.Contains(s, " 200 ") || strings.Contains(s, " 201 ") {
			t.Errorf("post %d answered %q, want a refusal", i, s)
		}
	}
}
