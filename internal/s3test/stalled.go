package s3test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// Stall is how a Stalled server answers every request.
type Stall int

const (
	// Silent accepts the connection, reads the request and never answers.
	Silent Stall = iota
	// MidBody answers 200 with the headers of a StalledSize object (ETag,
	// Last-Modified), sends the first 16 bytes of its body and then nothing.
	MidBody
)

// StalledSize is the length a MidBody answer announces.
const StalledSize = 1 << 20

func (m Stall) String() string { return [...]string{"silent", "mid-body"}[m] }

// Stalled starts a real loopback TCP server that stalls as m says, and
// returns its address, the count of requests it has read, and stop, which
// closes it and its connections. Its connections are held open until stop
// or the test's end, so a client without a time limit of its own would
// wait forever. Not S3: it answers every request alike, which is what a
// stuck server does.
func Stalled(t testing.TB, m Stall) (addr string, requests *atomic.Int64, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	requests = new(atomic.Int64)
	stop = func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close() // frees whatever still waits on them
		}
		conns = nil
	}
	t.Cleanup(stop)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				br := bufio.NewReader(c)
				for { // a HEAD's connection is reused for the next request
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					requests.Add(1)
					if m == Silent {
						return
					}
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n"+
						"ETag: \"0123456789abcdef\"\r\nLast-Modified: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\n", StalledSize)
					if r.Method != http.MethodHead { // a HEAD's answer has no body
						c.Write(bytes.Repeat([]byte("x"), 16))
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String(), requests, stop
}
