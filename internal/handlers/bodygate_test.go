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

// TestBodyBurstWithBadToken: the body gate admitted 10 MiB to any admin
// request carrying some token and read it before the token was checked —
// 60 posts with `Bearer x` took the server from 21 MiB to 1 GiB, 100 GETs of
// an unknown admin route with `Cookie: token=x` 1.7 GiB. The token is now
// verified before the body is read: each burst of 10 MiB bodies is answered
// unread (401, or 403 for a valid non-admin token on an admin route) and
// allocates well under the bound (600 MiB would be read without the check).
// Not parallel, so the allocation counter sees this test alone.
func TestBodyBurstWithBadToken(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.listen(), "http://")
	const clients, size = 60, 10 << 20
	const boundMiB = 150
	tests := []struct {
		name, method, path, header string
		want                       string
	}{
		{"bearer x, product post", "POST", "/api/v1/admin/productos", "Authorization: Bearer x", " 401 "},
		{"cookie token=x, GET of an unknown admin route", "GET", "/api/v1/admin/nada", "Cookie: token=x", " 401 "},
		{"bearer x, admin upload", "POST", "/api/v1/admin/imagenes/subir", "Authorization: Bearer x", " 401 "},
		{"bearer x, Cat upload", "POST", "/api/image", "Authorization: Bearer x", " 401 "},
		{"bearer of a forged signature", "PUT", "/api/v1/admin/productos/1", "Authorization: Bearer " + e.admin[:len(e.admin)-4] + "AAAA", " 401 "},
		{"valid non-admin token, admin route", "POST", "/api/v1/admin/productos", "Authorization: Bearer " + e.alice, " 403 "},
	}
	chunk := make([]byte, 64<<10)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
					conn.SetDeadline(time.Now().Add(60 * time.Second))
					fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", tt.method, tt.path, tt.header, size)
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
			t.Logf("%d requests with a 10 MiB body: %d MiB allocated in the process", clients, allocated)
			if allocated > boundMiB {
				t.Errorf("the burst allocated %d MiB, bound %d MiB: bodies were read", allocated, boundMiB)
			}
			for i, s := range statuses {
				if !strings.Contains(s, tt.want) {
					t.Errorf("request %d answered %q, want%s", i, s, tt.want)
				}
			}
		})
	}
}

// TestBodyBudget: the bytes of bodies held in memory are bounded across
// all requests. With the budget at its least (one largest body), one
// request holding the largest body in flight makes every other request with a
// body a 503 with Retry-After in its family's shape, unread, while requests
// without a body go on; once it ends, bodies are read again.
func TestBodyBudget(t *testing.T) {
	e := newEnv(t, envOpts{bodyBudget: 1})
	base := e.listen()
	holders := []struct{ name, head string }{
		// The largest body a route takes (10 MiB and 64 KiB) announced,
		// 16 KiB sent (fasthttp reads 8 KiB ahead before the handlers run).
		{"content-length", fmt.Sprintf("PUT /api/v1/admin/productos/1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			e.admin, 10<<20+64<<10, strings.Repeat(" ", 16<<10))},
		// Chunked: its length unknown, it reserves its limit.
		{"chunked", fmt.Sprintf("PUT /api/v1/admin/productos/1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n%s\r\n",
			e.admin, strings.Repeat(" ", 1024))},
	}
	for _, h := range holders {
		t.Run(h.name, func(t *testing.T) { budgetHeldBy(t, e.on(t), base, h.head) })
	}
}

// gauge reads the value of the gauge name from the app's registry.
func (e *env) gauge(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// budgetHeldBy sends head (a request whose body the server starts reading
// and never finishes) on a connection of its own, and checks that requests
// with a body are 503 while it is held and served once it goes.
func budgetHeldBy(t *testing.T, e *env, base, head string) {
	hold := func() net.Conn {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		return conn
	}
	conn := hold()
	defer func() { conn.Close() }()

	small := []struct {
		name string
		r    func() req // a fresh body each time
		key  string
	}{
		{"Balsamoa product post", func() req {
			return req{method: "POST", path: "/api/v1/admin/productos", token: e.admin, contentType: "application/json", body: strings.NewReader(`{"nombre":"x"}`)}
		}, "mensaje"},
		{"Cat delete with a body", func() req {
			return req{method: "DELETE", path: "/api/image/1", token: e.alice, contentType: "text/plain", body: strings.NewReader("x")}
		}, "error"},
	}
	// The holder's reservation is taken when the server reaches its body:
	// wait until the budget's gauge shows it, without assuming when. The
	// wait reads the gauge, not a request with a body: a poll holding a few
	// bytes at the moment the holder reserves made the holder the one
	// refused, again and again on a loaded machine. Should the holder be
	// refused all the same (answered, its connection closed), it is sent
	// again.
	deadline := time.Now().Add(60 * time.Second)
	var one [1]byte
	for e.gauge(t, "imagenes_request_body_bytes_reserved") < 64<<10 {
		if time.Now().After(deadline) {
			t.Fatal("the largest body in flight never filled the budget: its reservation never showed")
		}
		conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if n, _ := conn.Read(one[:]); n > 0 {
			conn.Close()
			conn = hold()
		}
	}
	for _, s := range small {
		t.Run(s.name, func(t *testing.T) {
			got := e.do(t, s.r())
			if got.status != 503 || got.header.Get("Retry-After") == "" {
				t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After", got.status, got.header.Get("Retry-After"), got.body)
			}
			if m := got.json(t); m[s.key] == nil {
				t.Errorf("got %s, want {%q}", got.body, s.key)
			}
		})
	}
	if got := e.do(t, req{method: "GET", path: "/api/v1/admin/productos", token: e.admin}); got.status != 200 {
		t.Errorf("a GET without a body beside the full budget: got %d %s, want 200", got.status, got.body)
	}
	conn.Close() // the holder goes away: its room comes back
	for {
		got := e.do(t, small[0].r())
		if got.status != 503 {
			if got.status/100 != 2 && got.status != 400 {
				t.Fatalf("after the holder left: got %d %s, want the route's own answer", got.status, got.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the budget never came back after the holder left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
