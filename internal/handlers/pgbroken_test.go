package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Every request that meets a broken PostgreSQL connection answers 503 in
// its family's shape, never 500: the app's pool goes through a proxy that,
// once armed, breaks the connection the request's statement (or its
// COMMIT) is sent on, closing it with a FIN (pgx reads "unexpected EOF") or
// a RST ("connection reset by peer"), as a server that dies under load
// does. The statement was sent, so pgx cannot call it safe to retry; before
// issue 23 such an error was a 500.
func TestBrokenConnectionIsUnavailable(t *testing.T) {
	t.Parallel()
	type scenario struct {
		name   string
		method string
		path   func(id int) string
		body   func(id int) string
		cat    bool // a Cat route: the image is alice's, the body {"error"}
		write  bool // the row must still be there after
		commit bool // break the COMMIT, not the first statement
	}
	routes := []scenario{
		{name: "balsamoa list", method: "GET", path: func(int) string { return "/api/v1/admin/imagenes" }},
		{name: "balsamoa trash list", method: "GET", path: func(int) string { return "/api/v1/admin/papelera" }},
		{name: "balsamoa delete", method: "DELETE", path: func(id int) string { return fmt.Sprintf("/api/v1/admin/imagenes/%d", id) }, write: true},
		{name: "balsamoa delete, at its commit", method: "DELETE", path: func(id int) string { return fmt.Sprintf("/api/v1/admin/imagenes/%d", id) }, write: true, commit: true},
		{name: "balsamoa bulk delete", method: "POST", path: func(int) string { return "/api/v1/admin/imagenes/eliminar" },
			body: func(id int) string { return fmt.Sprintf(`{"ids":[%d]}`, id) }, write: true},
		{name: "cat get", method: "GET", path: func(id int) string { return fmt.Sprintf("/api/image/%d", id) }, cat: true},
		{name: "cat list", method: "GET", path: func(int) string { return "/api/images" }, cat: true},
		{name: "cat delete", method: "DELETE", path: func(id int) string { return fmt.Sprintf("/api/image/%d", id) }, cat: true, write: true},
		{name: "cat delete, at its commit", method: "DELETE", path: func(id int) string { return fmt.Sprintf("/api/image/%d", id) }, cat: true, write: true, commit: true},
	}
	for _, how := range []string{"eof", "reset"} {
		for _, tt := range routes {
			t.Run(how+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				proxy := newPGProxy(t)
				e := newEnv(t, envOpts{appPool: proxy.pool})
				token := e.admin
				var id int
				if tt.cat {
					token = e.alice
					id = e.uploadCat(e.alice, pngBytes)
				} else {
					id, _ = e.upload(pngBytes)
				}
				r := req{method: tt.method, path: tt.path(id), token: token}
				if tt.body != nil {
					r.body, r.contentType = strings.NewReader(tt.body(id)), "application/json"
				}
				proxy.arm(how, tt.commit)
				got := e.do(t, r)
				proxy.arm("", false)
				if got.status != 503 {
					t.Fatalf("got %d %s, want 503", got.status, got.body)
				}
				m := got.json(t)
				key, other := "mensaje", "error"
				if tt.cat {
					key, other = other, key
				}
				if s, _ := m[key].(string); s == "" || m[other] != nil {
					t.Errorf("body %s: want only a non-empty %q", got.body, key)
				}
				if !proxy.broke() {
					t.Fatal("the proxy broke no connection: the request never met one")
				}
				// The answer is the broken connection's, not a timeout's or
				// a failed dial's: what the log says the request met. At a
				// COMMIT (a simple query) pgx's peek meets the EOF or reset,
				// closes the connection and reports "conn closed", which pgx
				// calls safe to retry — yet a COMMIT the server received
				// comes back the same way (TestCommitAnswerLost), so it is
				// "outcome unknown", for the janitor (issue 21).
				if !e.loggedError(func(s string) bool {
					return strings.Contains(s, "unexpected EOF") || strings.Contains(s, "connection reset by peer") ||
						(tt.commit && (strings.Contains(s, "commit outcome unknown") || strings.Contains(s, "commit never sent")) &&
							strings.Contains(s, "conn closed"))
				}) {
					t.Errorf("no request failed with the broken connection's error; logged: %v", e.loggedErrors())
				}
				if tt.write && !e.rowExists(id) {
					t.Error("the row is gone although the request answered 503")
				}
				// The app goes on on its other connections.
				if got := e.do(t, req{method: "GET", path: tt.path(id), token: token}); tt.method == "GET" && got.status != 200 {
					t.Errorf("after the break: got %d %s, want 200", got.status, got.body)
				}
			})
		}
	}
}

// loggedError reports whether a "request failed" log line's error satisfies match.
func (e *env) loggedError(match func(string) bool) bool {
	for _, s := range e.loggedErrors() {
		if match(s) {
			return true
		}
	}
	return false
}

func (e *env) loggedErrors() []string {
	var out []string
	for _, l := range e.logs.FilterMessage("request failed").All() {
		if s, ok := l.ContextMap()["error"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// pgProxy sits between a pool and PostgreSQL. Unarmed it passes bytes both
// ways; armed, the next bytes a client sends (only a COMMIT, when told so)
// are dropped and that connection is closed on both sides: with a FIN
// ("eof") or a RST ("reset") towards the client.
type pgProxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	mu     sync.Mutex
	how    string // "", "eof", "reset", "answer" (sent on, its answer lost)
	commit bool
	broken int
	wg     sync.WaitGroup
}

func newPGProxy(t testing.TB) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{t: t, ln: ln}
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

// pool opens a pool on dbURL through the proxy. It never pings a
// connection before handing it out (pgxpool does after a second idle), so
// the break meets the request's own statement, as a server dying under a
// statement does; the ping's failure is a failed dial, a 503 already.
func (p *pgProxy) pool(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p.target = u.Host
	u.Host = p.ln.Addr().String()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	p.wg.Add(1)
	go p.accept()
	return pool
}

func (p *pgProxy) arm(how string, commit bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.how, p.commit = how, commit
}

func (p *pgProxy) broke() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.broken > 0
}

func (p *pgProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(2)
		drop := new(atomic.Bool) // the server's next answer is lost
		go func() {
			defer p.wg.Done()
			p.backward(c.(*net.TCPConn), s, drop)
		}()
		go func() {
			defer p.wg.Done()
			defer s.Close()
			p.forward(c.(*net.TCPConn), s, drop)
		}()
	}
}

// forward copies what the client sends to the server until the proxy,
// armed, breaks the connection.
func (p *pgProxy) forward(c *net.TCPConn, s net.Conn, drop *atomic.Bool) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			c.Close()
			return
		}
		if how := p.breaks(buf[:n]); how == "answer" {
			// The statement goes on to the server, which carries it out;
			// its answer is what gets lost (backward).
			drop.Store(true)
		} else if how != "" {
			if how == "reset" {
				_ = c.SetLinger(0) // Close sends a RST
			}
			c.Close()
			return
		}
		if _, err := s.Write(buf[:n]); err != nil {
			c.Close()
			return
		}
	}
}

// backward copies what the server answers to the client; once drop is set
// the next answer is not passed on and the client's connection is reset.
func (p *pgProxy) backward(c *net.TCPConn, s net.Conn, drop *atomic.Bool) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if err != nil {
			return
		}
		if drop.Load() {
			_ = c.SetLinger(0)
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// breaks says how to break a connection whose client sent b, or "".
func (p *pgProxy) breaks(b []byte) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	// pgx sends a COMMIT alone, as a simple Query message: 'Q', int32
	// length, the text.
	if p.how == "" || (p.commit && !(len(b) > 5 && b[0] == 'Q' && bytes.HasPrefix(bytes.ToLower(b[5:]), []byte("commit")))) {
		return ""
	}
	p.broken++
	return p.how
}
