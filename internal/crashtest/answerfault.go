package crashtest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// answerFault is what the drain proxy does to one storage request of
// serve's that changes the bucket (a DELETE, a PUT, a copy, a multi-object
// delete), picked at random by the harness: the request reaches MinIO
// whole either way, so the store carries it out; only serve cannot know.
type answerFault int

const (
	// loseAnswer forwards the request, reads MinIO's whole answer and
	// resets serve's connection without a byte of it.
	loseAnswer answerFault = iota + 1
	// hangLate holds the whole request for a while (past serve's
	// REQUEST_TIMEOUT in the harness) and forwards it then, whether or not
	// serve still waits: a store that hangs and carries the request out
	// later.
	hangLate
)

// faultRule is the one fault armed on the proxy.
type faultRule struct {
	fault answerFault
	kind  string        // the requests it picks among (requestKind); "" any that changes the bucket
	skip  int           // matching requests to let pass first
	late  time.Duration // how long hangLate holds
	done  chan struct{} // closed once the fault is carried out (the answer dropped, or the held request sent)
	// caught is closed once the request to fault came (a hangLate holds
	// it from then on).
	caught chan struct{}
	what   string // the request faulted: "DELETE", "copy", "PUT", "POST?delete"
}

// mutating reports whether chunk, the first bytes of a request, starts a
// request that changes the bucket.
func mutating(chunk []byte) bool {
	if bytes.HasPrefix(chunk, []byte("DELETE ")) || bytes.HasPrefix(chunk, []byte("PUT ")) {
		return true
	}
	line, _, _ := bytes.Cut(chunk, []byte("\r\n"))
	return bytes.HasPrefix(line, []byte("POST ")) && bytes.Contains(line, []byte("?delete"))
}

// requestKind names a request, from its headers, for the rules and the
// harness's summary.
func requestKind(req []byte) string {
	head, _, _ := bytes.Cut(req, []byte("\r\n\r\n"))
	switch {
	case bytes.HasPrefix(head, []byte("DELETE ")):
		return "DELETE"
	case bytes.HasPrefix(head, []byte("POST ")):
		return "POST?delete"
	case strings.Contains(strings.ToLower(string(head)), "\r\nx-amz-copy-source:"):
		return "copy"
	}
	return "PUT"
}

// armFault makes the proxy fault the request that changes the bucket
// after skip such requests have passed; the channel closes once the fault
// is done, caught once the request came. One rule at a time: arming
// replaces an unspent rule.
func (p *drainProxy) armFault(f answerFault, kind string, skip int, late time.Duration) (caught, done <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = &faultRule{fault: f, kind: kind, skip: skip, late: late, done: make(chan struct{}), caught: make(chan struct{})}
	return p.rule.caught, p.rule.done
}

// disarm drops an unspent rule and returns the request the last rule
// picked ("" when none came), and whether its fault was carried out.
func (p *drainProxy) disarm() (what string, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rule
	p.rule = nil
	if r == nil {
		return "", false
	}
	select {
	case <-r.done:
		return r.what, true
	default:
		return r.what, false
	}
}

// pickFault returns the rule that chunk, a request's first bytes, spends
// (nil: pass it).
func (p *drainProxy) pickFault(chunk []byte) *faultRule {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rule
	if r == nil || r.fault == 0 || !mutating(chunk) || (r.kind != "" && requestKind(chunk) != r.kind) {
		return nil
	}
	if r.skip > 0 {
		r.skip--
		return nil
	}
	r.what = requestKind(chunk)
	f := *r
	r.fault = 0 // spent; r stays for disarm
	close(r.caught)
	return &f
}

// noteFaulted records what the rule faulted (from the whole request) and
// closes its channel.
func (p *drainProxy) noteFaulted(f *faultRule, what string) {
	p.mu.Lock()
	if p.rule != nil && p.rule.done == f.done {
		p.rule.what = what
	}
	p.faulted++
	p.mu.Unlock()
	close(f.done)
}

// swallow collects, instead of handing it to the client, the answer to a
// request whose answer is to be lost, and tells when it is whole.
type swallow struct {
	mu    sync.Mutex
	on    bool
	buf   []byte
	whole chan struct{}
}

// take is the back pipe's hook: it reports whether b was swallowed.
func (s *swallow) take(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.on {
		return false
	}
	s.buf = append(s.buf, b...)
	if s.whole != nil && wholeAnswer(s.buf) {
		close(s.whole)
		s.whole = nil
	}
	return true
}

// start swallows from now on and returns the channel closed once a whole
// answer came.
func (s *swallow) start() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on, s.whole = true, make(chan struct{})
	return s.whole
}

// wholeAnswer reports whether b holds one whole HTTP answer (MinIO's carry
// a Content-Length or are chunked).
func wholeAnswer(b []byte) bool {
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, res.Body)
	return err == nil
}

// reset closes c with a TCP reset, as a broken network does.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// faultsDone is how many requests the proxy has faulted.
func (p *drainProxy) faultsDone() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faulted
}
