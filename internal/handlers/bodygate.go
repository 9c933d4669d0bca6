package handlers

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/semaphore"

	"github.com/imagenes/imagenes/internal/auth"
)

// anonBodyLimit is the most a request may send when it carries no token
// (no Authorization header, no token cookie) or goes to a route that takes
// no upload: room for a JSON body or a small refused form, nothing more.
const anonBodyLimit = 64 << 10

// bodyGate decides each request's body limit from its header alone, before
// fasthttp reads the body: only a request to an upload route or a product
// write that carries a token may send up to bodyLimit. Without it, 100
// concurrent 10 MiB posts to /healthz were all read into memory before
// routing (21 MB → 2.2 GB). A body over the limit is a 413 and the
// connection is closed; the token itself is checked before the body is
// read (verifyBeforeBody).
//
// With streamed bodies fasthttp only reads ahead what this allows (at most
// 8 KiB) and leaves the rest to streamedBodies, which enforces the same
// limit (bodyLimitFor) on the stream.
func bodyGate(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	return fasthttp.RequestConfig{MaxRequestBodySize: bodyLimitFor(h)}
}

// bodyLimitFor is a request's body limit, from its header alone.
func bodyLimitFor(h *fasthttp.RequestHeader) int {
	p := h.RequestURI()
	if i := bytes.Index(p, []byte("://")); i >= 0 && bytes.IndexByte(p[:i], '/') < 0 {
		// absolute-form target (http://host/path): keep the path
		p = p[i+3:]
		if j := bytes.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			p = nil
		}
	}
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	big := bytes.EqualFold(bytes.TrimSuffix(p, []byte("/")), []byte("/api/image")) || isAdminAPI(p)
	authed := len(h.Peek(fasthttp.HeaderAuthorization)) > 0 || len(h.Cookie("token")) > 0
	if big && authed {
		return bodyLimit
	}
	return anonBodyLimit
}

// isAdminAPI: a path under /api/v1/admin/, as bodyLimitFor and Fiber's
// case-insensitive routing see it.
func isAdminAPI(p []byte) bool {
	return bytes.HasPrefix(bytes.ToLower(p), []byte("/api/v1/admin/"))
}

// verifyBeforeBody checks the token of a request the header gate lets send
// a large body (bodyLimitFor above anonBodyLimit: some token, on an upload
// or admin route) before a byte of that body is read: a made-up token
// (`Bearer x`, `Cookie: token=x`) is 401 and a valid non-admin token on an
// admin route 403, answered with the body unread and the connection closed.
// Before, the body gate admitted 10 MiB on the mere presence of a token and
// the body was read before the route checked it: 60 posts with `Bearer x`
// took the server from 21 MiB to 1 GiB. The check is the same Authenticate
// the routes use (cached), which keeps its verdict on the request so the
// route's own Required does not check again.
func verifyBeforeBody(a *auth.Auth) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := &c.Request().Header
		if bodyLimitFor(h) <= anonBodyLimit {
			return c.Next()
		}
		u, err := a.Authenticate(c)
		if err == nil && isAdminAPI([]byte(c.Path())) && !u.Admin {
			err = auth.ErrForbidden
		}
		if err != nil {
			if h.ContentLength() != 0 {
				c.Context().SetConnectionClose() // the unread body must not be parsed as a request
			}
			return err
		}
		return c.Next()
	}
}

// errBodiesBusy: the bodies in flight fill the budget; 503 with Retry-After.
var errBodiesBusy = errors.New("too many request bytes in flight")

// defaultBodyBudget is Deps.BodyBudget's default: six of the largest bodies
// at once, or a thousand of the 64 KiB a request without a token may send.
const defaultBodyBudget = 64 << 20

// bodyRetryAfter is the Retry-After of errBodiesBusy, seconds.
const bodyRetryAfter = "1"

// bodyBudget bounds the bytes of request bodies held in memory at once,
// across all requests: each body read into memory (every route but the
// uploads, which stream into staging) reserves its length — its limit when
// chunked — before a byte is read, and gives it back when its request ends.
// Per-request limits alone let N connections hold N × 10 MiB. A body that
// does not fit is answered at once (503, Retry-After), unread, rather than
// queued: a queued one would still hold its connection.
type bodyBudget struct {
	sem *semaphore.Weighted
	// reserved is the bytes taken now, for the gauge
	// imagenes_request_body_bytes_reserved (an operator sees a full budget
	// before the 503s; a test sees a holder's reservation land).
	reserved atomic.Int64
}

func newBodyBudget(n int64, reg *prometheus.Registry) *bodyBudget {
	if n <= 0 {
		n = defaultBodyBudget
	}
	n = max(n, bodyLimit) // the largest body a route accepts must fit alone
	b := &bodyBudget{sem: semaphore.NewWeighted(n)}
	if reg != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "imagenes_request_body_bytes_reserved",
			Help: "Bytes of request bodies held in memory now (their reservations in the body budget).",
		}, func() float64 { return float64(b.reserved.Load()) }))
	}
	return b
}

// reserve takes room for a body of contentLength (-1: chunked) under limit,
// or answers errBodiesBusy with its Retry-After. An empty body takes none.
func (b *bodyBudget) reserve(c *fiber.Ctx, contentLength int, limit int64) (release func(), err error) {
	n := limit
	if contentLength >= 0 {
		n = min(int64(contentLength), limit)
	}
	if n == 0 {
		return func() {}, nil
	}
	if !b.sem.TryAcquire(n) {
		c.Set(fiber.HeaderRetryAfter, bodyRetryAfter)
		return nil, errBodiesBusy
	}
	b.reserved.Add(n)
	return func() { b.reserved.Add(-n); b.sem.Release(n) }, nil
}

// readBody reads r to its end: into one buffer of the announced size when
// contentLength is known (io.ReadAll's doubling allocated about twice the
// body), else (chunked) into one that grows from 4 KiB, so a small chunked
// body does not cost its whole reservation.
func readBody(r io.Reader, contentLength int) ([]byte, error) {
	size := 4 << 10
	if contentLength >= 0 {
		size = contentLength
	}
	b := make([]byte, 0, size+1) // +1: room to see EOF without growing
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
