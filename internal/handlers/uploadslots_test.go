package handlers_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// heldUpload starts an upload of 128 KiB on its own connection that sends
// its first 64 KiB and then holds its slot until release is closed; done
// gets its answer ("201 …") or the error.
func heldUpload(t *testing.T, addr, path, token, field string, release <-chan struct{}) (done <-chan string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	out := make(chan string, 1)
	go func() {
		if err := rawUpload(conn, path, token, field, 128<<10, release); err != nil {
			out <- err.Error()
			return
		}
		out <- readAnswer(conn)
	}()
	return out
}

// readAnswer reads one response from conn as "status body".
func readAnswer(conn net.Conn) string {
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return fmt.Sprintf("%d %s", res.StatusCode, b)
}

// smallUpload sends a whole 1 KiB upload on its own connection and returns
// its answer as "status body".
func smallUpload(t *testing.T, addr, path, token, field string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	if err := rawUpload(conn, path, token, field, 1024, nil); err != nil {
		t.Fatal(err)
	}
	return readAnswer(conn)
}

// waitStaged waits until n uploads are streaming into staging.
func (e *env) waitStaged(n int) {
	e.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); len(e.stagingFiles()) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("got %d uploads in staging, want %d", len(e.stagingFiles()), n)
		}
	}
}

// TestUploadSlotsPerCaller: upload slots are shared fairly. With 6 slots, 2
// per caller and 2 only admins may take: a caller holding both its slots
// with uploads that stall gets a 503 for a third, while another caller and
// an admin still upload; with every slot but the admins' reserve held, a
// third user gets the 503 and an admin still uploads. Before, the slots were
// one pool: the third upload of the first caller took a slot like anyone's.
func TestUploadSlotsPerCaller(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{maxUploads: 6, uploadsPerCaller: 2, uploadsAdminReserve: 2, uploadGrace: time.Hour, readTimeout: 2 * time.Minute})
	addr := strings.TrimPrefix(e.listen(), "http://")
	carol := mint(t, "carol", false)
	release := make(chan struct{})
	var held []<-chan string
	hold := func(token string, n int) {
		for range n {
			held = append(held, heldUpload(t, addr, "/api/image", token, "file", release))
		}
		e.waitStaged(len(held))
	}
	const busyCat = `503 {"error":"Too many uploads in progress; retry shortly."}`
	type step struct {
		name, path, token, field, want string
	}
	check := func(steps []step) {
		t.Helper()
		for _, s := range steps {
			if got := smallUpload(t, addr, s.path, s.token, s.field); !strings.HasPrefix(got, s.want) {
				t.Errorf("%s: got %s, want %s", s.name, got, s.want)
			}
		}
	}
	hold(e.alice, 2)
	check([]step{
		{"alice's third: her share is taken", "/api/image", e.alice, "file", busyCat},
		{"bob", "/api/image", e.bob, "file", "201 "},
		{"an admin", "/api/v1/admin/imagenes/subir", e.admin, "imagen", "201 "},
	})
	hold(e.bob, 2) // 4 held: all but the admins' reserve
	check([]step{
		{"carol: only the admins' reserve is left", "/api/image", carol, "file", busyCat},
		{"an admin on the cat route: the reserve", "/api/image", e.admin, "file", "201 "},
		{"an admin on the balsamoa route: the reserve", "/api/v1/admin/imagenes/subir", e.admin, "imagen", "201 "},
	})
	close(release)
	for i, d := range held {
		select {
		case got := <-d:
			if !strings.HasPrefix(got, "201 ") {
				t.Errorf("held upload %d: got %s, want 201", i, got)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("held upload %d never answered", i)
		}
	}
	check([]step{{"carol, once the slots are free", "/api/image", carol, "file", "201 "}})
}

// TestSlowUploadCut: an upload slower than the minimum rate on average
// once the grace has passed is cut with 408 in its route's shape, its
// staging file removed and nothing stored — a trickle as soon as the grace
// ends, a client that stops sending when its average falls below the rate
// (not at READ_TIMEOUT, 2 minutes here). One at a steady pace is stored.
// Before, a trickle held its slot until READ_TIMEOUT.
// The grace and rate are the test's (200 ms, 4 KiB/s), the deadlines
// generous.
func TestSlowUploadCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{uploadGrace: 200 * time.Millisecond, uploadMinRate: 4 << 10, readTimeout: 2 * time.Minute})
	addr := strings.TrimPrefix(e.listen(), "http://")
	const (
		tooSlowCat = `408 {"error":"Upload too slow`
		tooSlowBal = `408 {"mensaje":"La subida es demasiado lenta`
	)
	cases := []struct {
		name, path, field string
		every             time.Duration // a chunk this often, after the first 9 000 bytes (0: nothing more)
		chunk             int
		want              string
	}{
		{"cat: a trickle of 1.6 KB/s", "/api/image", "file", 40 * time.Millisecond, 64, tooSlowCat},
		{"balsamoa: a trickle of 1.6 KB/s", "/api/v1/admin/imagenes/subir", "imagen", 40 * time.Millisecond, 64, tooSlowBal},
		{"cat: stops sending", "/api/image", "file", 0, 0, tooSlowCat},
		{"balsamoa: stops sending", "/api/v1/admin/imagenes/subir", "imagen", 0, 0, tooSlowBal},
		{"cat: 160 KiB/s is stored", "/api/image", "file", 100 * time.Millisecond, 16 << 10, "201 "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.count(`SELECT count(*) FROM producto_imagenes`)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(time.Minute))
			const size, first = 256 << 10, 9000
			head := "--B\r\nContent-Disposition: form-data; name=\"" + tc.field + "\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
			tail := "\r\n--B--\r\n"
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: %d\r\n\r\n%s",
				tc.path, e.admin, len(head)+size+len(tail), head)
			// 9 000 bytes at once, as the attack did: past the 8 KiB fasthttp
			// reads before the handler runs (and a slot is taken).
			conn.Write(pngChunk[:first])
			stop := make(chan struct{})
			defer close(stop)
			if tc.every > 0 {
				zeros := make([]byte, tc.chunk)
				go func() {
					tick := time.NewTicker(tc.every)
					defer tick.Stop()
					for sent := first; sent < size; sent += tc.chunk {
						select {
						case <-stop:
							return
						case <-tick.C:
						}
						if _, err := conn.Write(zeros[:min(tc.chunk, size-sent)]); err != nil {
							return // the server cut it
						}
					}
					io.WriteString(conn, tail)
				}()
			}
			if got := readAnswer(conn); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %s, want %s…", got, tc.want)
			}
			if staged := e.on(t).stagingFiles(); len(staged) != 0 {
				t.Errorf("staging holds %v after the answer, want nothing", staged)
			}
			want := before
			if strings.HasPrefix(tc.want, "201") {
				want++
			}
			if got := e.count(`SELECT count(*) FROM producto_imagenes`); got != want {
				t.Errorf("got %d rows, want %d", got, want)
			}
		})
	}
}
