package crashtest

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// drainProxy stands between the harness's serve and the test MinIO, byte
// for byte, so that after a kill the harness can wait until MinIO has
// finished every request the dead process sent. An object store goes on
// with a request whose client died — a delete it had begun, a PUT or a
// copy well under way — and under load it may land after the janitor's
// walk: the harness would then judge, as if the crash had left it, an
// object the storage was still writing (an upload's object with no row,
// its upload never committed). A folder has no such lag: a rename is done
// when the process that asked for it dies.
//
// Each connection is piped both ways. When the client's side ends (a kill
// closes every socket), the proxy half-closes MinIO's side and reads it to
// the end: MinIO closes the connection once its handler for the request in
// flight, if any, has returned. drain waits for that on every connection.
//
// holdRequests, for tests of the race itself, keeps back each whole request
// whose first bytes start with a prefix until release, and then tells MinIO
// that its client is gone only once MinIO has answered it: a request the
// storage was already carrying out when its client died (told at once,
// MinIO drops a PUT or a copy it has not begun; a loaded one may be well
// into it).
type drainProxy struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	cond  *sync.Cond
	open  int      // connections not finished
	hold  []byte   // requests starting with it wait for release
	held  []string // the request lines held
	freed chan struct{}
	// cut counts the connections whose client ended with a request sent
	// and not yet answered: what MinIO had to finish (or drop) on its own.
	cut int
	// rule is the answer fault armed (armFault), faulted how many were
	// carried out.
	rule    *faultRule
	faulted int
}

func newDrainProxy(t testing.TB, upstream string) *drainProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &drainProxy{ln: ln, upstream: upstream}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(func() { ln.Close() })
	return p
}

// Addr is where the proxy listens.
func (p *drainProxy) Addr() string { return p.ln.Addr().String() }

func (p *drainProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.open++
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *drainProxy) pipe(c net.Conn) {
	defer func() {
		p.mu.Lock()
		p.open--
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	defer c.Close()
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer u.Close()
	back := make(chan struct{})
	sw := &swallow{}                  // an answer to lose (loseAnswer)
	answers := make(chan struct{}, 1) // MinIO sent something
	var pending sync.Mutex            // guards asked
	asked := false                    // bytes went to MinIO after its last answer
	go func() {
		defer close(back)
		// To the client while it listens; then on to MinIO's end, so
		// that MinIO is never cut off before it is done.
		buf := make([]byte, 32<<10)
		var werr error
		for {
			n, err := u.Read(buf)
			if n > 0 {
				pending.Lock()
				asked = false
				pending.Unlock()
				select {
				case answers <- struct{}{}:
				default:
				}
				if !sw.take(buf[:n]) && werr == nil {
					_, werr = c.Write(buf[:n])
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	awaiting := false // a held request went on: MinIO must answer before it hears of the end
requests:
	for {
		n, err := c.Read(buf)
		chunk := buf[:n]
		var f *faultRule
		if n > 0 && !p.holds(chunk) {
			f = p.pickFault(chunk)
		}
		switch {
		case n > 0 && p.holds(chunk):
			chunk = p.wait(wholeRequest(c, chunk))
			select { // drop what an earlier request's answer left
			case <-answers:
			default:
			}
			awaiting = true
		case f != nil && f.fault == loseAnswer:
			req := wholeRequest(c, chunk)
			whole := sw.start()
			pending.Lock()
			asked = true
			pending.Unlock()
			if _, werr := u.Write(req); werr == nil {
				select { // MinIO answered whole: it carried the request out
				case <-whole:
				case <-back:
				}
			}
			p.noteFaulted(f, requestKind(req))
			reset(c) // serve never hears of it
			break requests
		case f != nil && f.fault == hangLate:
			chunk = wholeRequest(c, chunk)
			time.Sleep(f.late) // serve's time limit runs out meanwhile; it gives up on the request
			select {
			case <-answers:
			default:
			}
			awaiting = true
		}
		if len(chunk) > 0 {
			pending.Lock()
			asked = true
			pending.Unlock()
			_, werr := u.Write(chunk)
			if f != nil { // the held request went on, late
				p.noteFaulted(f, requestKind(chunk))
			}
			if werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	pending.Lock()
	if asked {
		p.mu.Lock()
		p.cut++
		p.mu.Unlock()
	}
	pending.Unlock()
	if awaiting {
		select {
		case <-answers:
		case <-back:
		}
	}
	if tc, ok := u.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-back
}

// holds reports whether chunk starts a request to hold.
func (p *drainProxy) holds(chunk []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hold != nil && bytes.HasPrefix(chunk, p.hold)
}

// wholeRequest reads from c, after first, the rest of one HTTP/1.1
// request: its headers and a body of its Content-Length. On a read error
// it returns what it has.
func wholeRequest(c net.Conn, first []byte) []byte {
	req := append([]byte(nil), first...)
	buf := make([]byte, 32<<10)
	for {
		if head, _, ok := bytes.Cut(req, []byte("\r\n\r\n")); ok {
			want := len(head) + 4 + contentLength(string(head))
			if len(req) >= want {
				return req
			}
		}
		n, err := c.Read(buf)
		req = append(req, buf[:n]...)
		if err != nil {
			return req
		}
	}
}

// contentLength is the Content-Length of a request's headers, 0 if none.
func contentLength(head string) int {
	for _, line := range strings.Split(head, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// wait records req as held and blocks until release; it returns req.
func (p *drainProxy) wait(req []byte) []byte {
	p.mu.Lock()
	line, _, _ := bytes.Cut(req, []byte("\r\n"))
	p.held = append(p.held, string(line))
	p.cond.Broadcast()
	freed := p.freed
	p.mu.Unlock()
	<-freed
	return req
}

// holdRequests keeps back, until release, every request that starts with
// prefix ("PUT ", "DELETE "…).
func (p *drainProxy) holdRequests(prefix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold, p.held, p.freed = []byte(prefix), nil, make(chan struct{})
}

// waitHeld returns the request line ("PUT /bucket/key HTTP/1.1") of the
// first request held, once one is, whole.
func (p *drainProxy) waitHeld() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.held) == 0 {
		p.cond.Wait()
	}
	return p.held[0]
}

// release sends the held requests on and holds no more.
func (p *drainProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.freed != nil {
		close(p.freed)
	}
	p.hold, p.freed = nil, nil
}

// cuts is how many connections ended with a request unanswered.
func (p *drainProxy) cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// drain returns once every connection is finished: the client that opened
// it is gone and MinIO is done with what it sent. Only for a storage with
// no live client (serve killed and waited for). It gives up after limit,
// reporting how many connections MinIO still held, so that a stuck server
// fails the test instead of hanging it.
func (p *drainProxy) drain(limit time.Duration) error {
	stuck := time.AfterFunc(limit, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stuck.Stop()
	end := time.Now().Add(limit)
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.open > 0 {
		if time.Now().After(end) {
			return fmt.Errorf("MinIO still holds %d of the dead server's connections after %s", p.open, limit)
		}
		p.cond.Wait()
	}
	return nil
}

// DrainProxy is the proxy for the harnesses of other packages
// (internal/linearize): serve reaches the bucket through Addr, and once
// serve is killed and waited for, Drain returns when MinIO has finished
// every request the dead process sent.
type DrainProxy struct{ p *drainProxy }

// NewDrainProxy starts a proxy to upstream (host:port), closed when t ends.
func NewDrainProxy(t testing.TB, upstream string) *DrainProxy {
	return &DrainProxy{newDrainProxy(t, upstream)}
}

// Addr is where the proxy listens.
func (d *DrainProxy) Addr() string { return d.p.Addr() }

// Drain waits, at most limit, until every connection is finished.
func (d *DrainProxy) Drain(limit time.Duration) error { return d.p.drain(limit) }
