package s3test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is what a Proxy does to the request a rule picks.
type Fault int

const (
	// LoseAnswer sends the request to the server, reads its whole answer,
	// then closes the client's connection without a byte of it: the store
	// carried the request out and the client cannot know (a reset
	// connection, a proxy's time-out).
	LoseAnswer Fault = iota + 1
	// Hold keeps the request until Release, sends it to the server then,
	// whether or not the client still waits (it has given up by then if its
	// time limit is shorter), and closes the client's connection: a store
	// that hangs and carries out the held requests later.
	Hold
)

// Proxy stands between a store and the test server. It forwards each
// request as it came (its Host, which the request's signature covers,
// included) and hands the answer back — except the first request a rule
// picks, which it faults. Test-only: a real HTTP reverse proxy on loopback,
// so the client meets a real lost answer or a real hang.
type Proxy struct {
	t        testing.TB
	upstream string // host:port
	rt       *http.Transport
	ln       net.Listener

	mu     sync.Mutex
	method string
	suffix string // of the request's path (the key)
	fault  Fault
	faults int // requests faulted so far

	log        []string // the requests since the last Take
	failDelete string   // a key whose delete a DeleteObjects answer reports failed (once)

	signals
}

// signals are the steps of one faulted request.
type signals struct {
	held    chan struct{} // closed when a Hold rule caught its request
	release chan struct{} // closed by Release
	landed  chan struct{} // closed when the faulted request's answer came from the server
}

// NewProxy starts a proxy to the server at endpoint (http://host:port),
// stopped when the test ends.
func NewProxy(t testing.TB, endpoint string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := http.DefaultTransport.(*http.Transport).Clone()
	rt.Proxy = nil
	rt.DisableCompression = true // the answer goes back byte for byte
	p := &Proxy{t: t, upstream: strings.TrimPrefix(endpoint, "http://"), rt: rt, ln: ln}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: time.Minute}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed at cleanup
	t.Cleanup(func() {
		p.mu.Lock()
		if p.release != nil {
			select {
			case <-p.release:
			default:
				close(p.release) // a held request must not outlive the test
			}
		}
		p.mu.Unlock()
		srv.Close()
		rt.CloseIdleConnections()
	})
	return p
}

// Endpoint is the proxy's http://host:port, for objstore.Options.Endpoint.
func (p *Proxy) Endpoint() string { return "http://" + p.ln.Addr().String() }

// On makes the proxy fault the next request with method whose path ends in
// suffix (a key); the requests after it pass.
func (p *Proxy) On(method, suffix string, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.method, p.suffix, p.fault = method, suffix, f
	p.signals = signals{held: make(chan struct{}), release: make(chan struct{}), landed: make(chan struct{})}
}

// Faults is how many requests the proxy has faulted.
func (p *Proxy) Faults() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// WaitHeld waits (a minute at most) until a Hold rule has caught its request.
func (p *Proxy) WaitHeld(t testing.TB) {
	t.Helper()
	p.wait(t, p.chans().held, "no request was held")
}

// Release sends the held request on to the server.
func (p *Proxy) Release() { close(p.chans().release) }

// WaitLanded waits (a minute at most) until the faulted request's answer
// came back from the server: the server carried it out.
func (p *Proxy) WaitLanded(t testing.TB) {
	t.Helper()
	p.wait(t, p.chans().landed, "the faulted request never got the server's answer")
}

func (p *Proxy) chans() signals {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signals
}

func (p *Proxy) wait(t testing.TB, ch chan struct{}, msg string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatal(msg)
	}
}

// pick returns the fault for r (0: pass it), spending the rule.
func (p *Proxy) pick(r *http.Request) (Fault, signals) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fault == 0 || r.Method != p.method || !strings.HasSuffix(r.URL.Path, p.suffix) {
		return 0, signals{}
	}
	f := p.fault
	p.fault = 0
	p.faults++
	return f, p.signals
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.record(r)
	f, c := p.pick(r)
	ctx := r.Context()
	if f == Hold {
		close(c.held)
		<-c.release
		ctx = context.WithoutCancel(ctx) // the client may be gone: the store goes on
	}
	out := r.Clone(ctx)
	out.URL.Scheme, out.URL.Host, out.RequestURI = "http", p.upstream, ""
	out.Host = r.Host
	if r.ContentLength == 0 {
		out.Body = nil
	}
	failKey := p.takeFailDelete(r)
	if failKey != "" {
		out.Header.Del("Accept-Encoding") // an answer to rewrite comes plain
	}
	res, err := p.rt.RoundTrip(out)
	if err != nil {
		if f != 0 {
			p.t.Errorf("s3test proxy: the faulted %s %s did not reach the server: %v", r.Method, r.URL.Path, err)
			close(c.landed)
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	if f != 0 {
		_, _ = io.Copy(io.Discard, res.Body)
		close(c.landed)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // a reset, as a broken network gives
				}
				conn.Close()
			}
		}
		return
	}
	if failKey != "" {
		p.failKeyInAnswer(w, res, failKey)
		return
	}
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}
