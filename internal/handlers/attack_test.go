package handlers_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Slow clients are cut off by the read timeout instead of holding a
// connection (and a worker) forever; the server keeps serving others.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{readTimeout: 300 * time.Millisecond})
	base := e.listen()
	host := strings.TrimPrefix(base, "http://")
	tests := []struct {
		name string
		send string // then the client stalls
	}{
		{"headers never finished", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1"},
		{"body never finished", "POST /api/image HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + e.alice +
			"\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000\r\n\r\n--B\r\n"},
		{"nothing at all", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tt.send); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			_, err = io.ReadAll(conn) // returns when the server closes
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server kept a stalled connection open for 10s")
			}
			t.Logf("cut off after %s", time.Since(start).Round(10*time.Millisecond))
		})
	}
	res, err := http.Get(base + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("after the slow clients: %v %v, want 200", res, err)
	}
	res.Body.Close()
}

// A 1 GiB upload stream (chunked: no Content-Length to refuse it by) is cut
// at the body limit: the client gets the family's "too large" answer long
// before it has sent a gigabyte, and the server's memory does not grow with
// what the client sends.
func TestHugeUploadStreamIsCut(t *testing.T) {
	e := newEnv(t)
	base := e.listen()
	host := strings.TrimPrefix(base, "http://")
	tests := []struct {
		path, token, field string
		status             int
		body               string
	}{
		// The stream is cut where the file passes the route's limit, by the
		// route itself, so the answer is its family's own (Balsamoa answers
		// an oversized upload with 400).
		{"/api/image", e.alice, "file", 413, `{"error":"File too large (max 10MB)."}`},
		{"/api/v1/admin/imagenes/subir", e.admin, "imagen", 400, `{"mensaje":"El archivo supera el límite de 5 MB"}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			e := e.on(t)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(60 * time.Second))
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
				"Content-Type: multipart/form-data; boundary=B\r\nTransfer-Encoding: chunked\r\n\r\n", tt.path, tt.token)
			sent := make(chan int64, 1)
			go func() { // stream 1 GiB in 64 KiB chunks until the server stops reading
				chunk := make([]byte, 64<<10)
				head := "--B\r\nContent-Disposition: form-data; name=\"" + tt.field + "\"; filename=\"big.png\"\r\n\r\n\x89PNG\r\n\x1a\n"
				copy(chunk, head)
				var n int64
				for n < 1<<30 {
					if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
						break
					}
					n += int64(len(chunk))
				}
				sent <- n
			}()
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			conn.Close()
			n := <-sent
			if res.StatusCode != tt.status || string(b) != tt.body {
				t.Errorf("got %d %s, want %d %s", res.StatusCode, b, tt.status, tt.body)
			}
			if n >= 1<<30 {
				t.Errorf("the client sent the whole gigabyte; want it cut near the 10 MiB limit")
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			grown := int64(after.HeapInuse) - int64(before.HeapInuse)
			if grown > 64<<20 {
				t.Errorf("heap grew by %d MiB after a cut upload, want the body limit at most", grown>>20)
			}
			t.Logf("cut after %d MiB sent; heap %+d KiB", n>>20, grown>>10)
			if left := e.stagingFiles(); len(left) != 0 {
				t.Errorf("staging holds %v, want nothing", left)
			}
		})
	}
}
