package handlers

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/auth"
)

// Upload slots are shared fairly. One caller trickling 32 uploads at
// 200 B/s held every slot and gave everyone else, admins included, a 503
// for as long as it liked. Now:
//   - each caller (token subject) holds at most perCaller slots (a quarter
//     of them: 8 of 32) — a fixed cap rather than a share of the callers
//     active now, because a slot already held cannot be taken back when
//     another caller arrives;
//   - the last reserve slots (an eighth: 4 of 32) are for admins only, so a
//     few users filling the rest never lock Balsamoa's panel out;
//   - an upload slower than minRate on average once grace has passed (4 KiB/s
//     after 5 s) is cut with 408 and its staging file removed, so a held slot
//     costs its holder a real transfer. A client that stops sending is cut
//     the moment its average would drop below the rate (a read deadline on
//     the connection), not only when its next bytes come.

// Errors of upload slots and pacing, mapped to status in errors.go.
var (
	// errUploadsBusy: no slot for this caller (the pool, its own share, or
	// all but the admins' reserve are taken); 503 with Retry-After.
	errUploadsBusy = errors.New("too many uploads in flight")
	// errUploadTooSlow: the body came slower than the minimum rate after
	// the grace; 408, nothing stored.
	errUploadTooSlow = errors.New("upload slower than the minimum rate")
)

// Defaults of the upload limits (Deps fields at 0).
const (
	// defaultMaxUploads: how many uploads may stream into staging at once.
	// Each costs a few tens of KiB of buffers, a file descriptor and disk
	// bandwidth; more at once only slows every one of them.
	defaultMaxUploads = 32
	// defaultUploadGrace: how long an upload may go at any pace (a TLS
	// handshake, a slow start, a phone waking its radio).
	defaultUploadGrace = 5 * time.Second
	// defaultUploadMinRate: bytes a second on average after the grace; a 5
	// MiB image at this pace still takes 21 minutes, so no real client
	// meets it, and 32 slots held at it move 128 KiB/s.
	defaultUploadMinRate = 4 << 10
)

// uploadRetryAfter is the Retry-After of a 503 for busy uploads, seconds:
// an upload of a few MiB on a LAN takes well under that.
const uploadRetryAfter = "2"

// uploadLimits configure uploadSlots; zero values are the defaults.
type uploadLimits struct {
	total     int // all slots (Deps.MaxUploads)
	perCaller int // per token subject: total/4, at least 1
	reserve   int // the admins' own: total/8
	grace     time.Duration
	minRate   int64         // bytes a second
	read      time.Duration // READ_TIMEOUT: the pacing never extends it
}

// uploadSlots bounds the uploads in flight, per caller and in all. A full
// set answers at once (503, Retry-After) rather than queueing: a queued
// upload would still hold its connection and its client's patience.
type uploadSlots struct {
	lim      uploadLimits
	mu       sync.Mutex
	inUse    int
	byCaller map[string]int
}

func newUploadSlots(l uploadLimits) *uploadSlots {
	if l.total <= 0 {
		l.total = defaultMaxUploads
	}
	if l.perCaller <= 0 {
		l.perCaller = max(1, l.total/4)
	}
	if l.reserve <= 0 {
		l.reserve = l.total / 8
	}
	l.reserve = min(l.reserve, l.total-1)
	if l.grace <= 0 {
		l.grace = defaultUploadGrace
	}
	if l.minRate <= 0 {
		l.minRate = defaultUploadMinRate
	}
	return &uploadSlots{lim: l, byCaller: make(map[string]int)}
}

// acquire takes a slot for u, or answers errUploadsBusy with its
// Retry-After.
func (s *uploadSlots) acquire(c *fiber.Ctx, u auth.User) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	open := s.lim.total
	if !u.Admin {
		open -= s.lim.reserve
	}
	if s.inUse >= open || s.byCaller[u.Sub] >= s.lim.perCaller {
		c.Set(fiber.HeaderRetryAfter, uploadRetryAfter)
		return nil, errUploadsBusy
	}
	sub := strings.Clone(u.Sub) // a map key that outlives the request
	s.inUse++
	s.byCaller[sub]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.inUse--
		if s.byCaller[sub]--; s.byCaller[sub] == 0 {
			delete(s.byCaller, sub)
		}
	}, nil
}

// paced cuts an upload's body that comes slower than minRate on average
// once grace has passed since start: errUploadTooSlow.
type paced struct {
	r     io.Reader
	conn  net.Conn // nil: checked on each read only
	start time.Time
	n     int64
	lim   uploadLimits
	// until is READ_TIMEOUT's deadline for this request: the pacing's own
	// deadline never goes past it.
	until time.Time
}

func (s *uploadSlots) pace(c *fiber.Ctx, r io.Reader) *paced {
	now := time.Now()
	p := &paced{r: r, conn: c.Context().Conn(), start: now, lim: s.lim, until: c.Context().Time().Add(s.lim.read)}
	if s.lim.read <= 0 {
		p.until = time.Time{}
	}
	return p
}

// due is when the average drops below the rate if nothing more comes.
func (p *paced) due() time.Time {
	d := p.start.Add(max(p.lim.grace, time.Duration(p.n*int64(time.Second)/p.lim.minRate)))
	if !p.until.IsZero() && d.After(p.until) {
		return p.until
	}
	return d
}

func (p *paced) Read(b []byte) (int, error) {
	if p.conn != nil {
		// Best effort: a connection that takes no deadline is still
		// checked below whenever bytes come.
		p.conn.SetReadDeadline(p.due()) //nolint:errcheck // see above
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if err != nil && err != io.EOF && isTimeout(err) && (p.until.IsZero() || time.Now().Before(p.until)) {
		return n, errors.Join(errUploadTooSlow, err)
	}
	if el := time.Since(p.start); el > p.lim.grace && p.n*int64(time.Second) < p.lim.minRate*int64(el) {
		return n, errUploadTooSlow
	}
	return n, err
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
