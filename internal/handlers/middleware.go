package handlers

// The rule of this package, for every handler and middleware: a string read
// from *fiber.Ctx (c.Method, c.Path, c.Params, c.Query, c.Get, c.Route().Path
// of an unmatched request, c.FormValue...) aliases fasthttp's request buffer,
// which is reused by the next request on any connection. Such a string may be
// used while the handler runs and must be copied (utils.CopyString) before it
// outlives it: a metric label, a map key, a goroutine, an error kept or
// returned, a log field (the test observer keeps fields). Metric labels take
// constants only (methodLabel), so their set is bounded too.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/auth"
)

const requestIDKey = "imagenes.request_id"

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

// accessLog gives every request an id (a well-formed incoming X-Request-ID
// is kept, so ids follow a request across proxies), bounds its database work
// with a timeout on the user context, and writes one structured line when it
// ends. It runs the ErrorHandler itself so that the line has the final
// status; the token and other headers are never logged.
//
// It runs on every request, so it is kept cheap: the id is a counter, not a
// uuid; the line carries no caller (always this function) and its fields
// are built only when the level lets it through; the metrics' children are
// looked up once per route and status (Metrics.observe).
func accessLog(log *zap.Logger, m *Metrics, routes *routeLabels, timeout time.Duration) fiber.Handler {
	log = log.WithOptions(zap.WithCaller(false))
	ids := newRequestIDs()
	return func(c *fiber.Ctx) error {
		start := time.Now()
		id := c.Get(fiber.HeaderXRequestID)
		if len(id) == 0 || len(id) > 64 || !printable(id) {
			id = ids.next()
		} else {
			id = string([]byte(id)) // copy: Fiber reuses the header buffer
		}
		c.Locals(requestIDKey, id)
		c.Set(fiber.HeaderXRequestID, id)

		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c.SetUserContext(ctx)
		c.Locals(timeoutKey{}, timeout)
		defer func() {
			if cancel, ok := c.Locals(restartedKey{}).(context.CancelFunc); ok {
				cancel()
			}
		}()

		if err := c.Next(); err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		elapsed := time.Since(start)
		// The pattern the request was sent to, also when a middleware
		// refused it before routing reached the endpoint (routeLabels); the
		// app's own strings, cloned anyway where kept (observe, the line's
		// fields, which a test observer keeps).
		route := routes.of(c)
		method := methodLabel(c.Method())
		m.observe(method, route, status, elapsed)

		ce := log.Check(zap.InfoLevel, "request")
		if ce == nil {
			return nil
		}
		fields := make([]zap.Field, 0, 8)
		fields = append(fields,
			zap.String("request_id", id),
			zap.String("method", method),
			zap.String("route", strings.Clone(route)),
			zap.String("path", utils.CopyString(c.Path())),
			zap.Int("status", status),
			zap.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			zap.Int("bytes", responseSize(c)),
		)
		if u, ok := auth.FromCtx(c); ok {
			fields = append(fields, zap.String("sub", u.Sub))
		}
		ce.Write(fields...)
		return nil
	}
}

// requestIDs makes the ids of requests that come without one: a random
// prefix drawn once per process (so replicas and restarts do not collide)
// and a counter. A uuid per request cost a read of 16 random bytes and its
// formatting, for an id that only has to be unique and findable in the log.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	return &requestIDs{prefix: strings.ReplaceAll(uuid.NewString(), "-", "")[:16] + "-"}
}

// next is prefix + the counter in hex: "3f9c0a7be41d5c22-1a".
func (r *requestIDs) next() string {
	var buf [40]byte
	b := append(buf[:0], r.prefix...)
	return string(strconv.AppendUint(b, r.n.Add(1), 16))
}

// responseSize is the body's length for the log. A streamed body (an image)
// is logged by its announced length: asking fasthttp for its Body() would
// read the whole stream into memory before sending it — and on a read
// error replace the image with the error's text.
func responseSize(c *fiber.Ctx) int {
	if c.Response().IsBodyStream() {
		return c.Response().Header.ContentLength()
	}
	return len(c.Response().Body())
}

// recoverAll is the outermost middleware: a panic anywhere below it — a
// handler, the access log, the ErrorHandler — is logged and becomes a 500 in
// the family's shape, written here without calling the ErrorHandler again
// (it may be what panicked). Without it fasthttp would let the panic kill
// the process.
func recoverAll(log *zap.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			func() {
				// The logger itself may be what panicked.
				defer func() { _ = recover() }()
				log.Error("panic", zap.String("request_id", requestID(c)), zap.String("panic", fmt.Sprint(r)), zap.Stack("stack"))
			}()
			m := fallback[fiber.StatusInternalServerError]
			c.Response().ResetBody()
			c.Set(fiber.HeaderCacheControl, "no-store")
			if familyOf(c.Path()) == familyBalsamoa {
				err = c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"mensaje": m[0]})
			} else {
				err = c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": m[1]})
			}
		}()
		return c.Next()
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// methodLabel maps a request method to a constant: the label never aliases
// the request buffer, and a client inventing methods cannot grow the series.
func methodLabel(m string) string {
	switch m {
	case fiber.MethodGet:
		return fiber.MethodGet
	case fiber.MethodHead:
		return fiber.MethodHead
	case fiber.MethodPost:
		return fiber.MethodPost
	case fiber.MethodPut:
		return fiber.MethodPut
	case fiber.MethodPatch:
		return fiber.MethodPatch
	case fiber.MethodDelete:
		return fiber.MethodDelete
	case fiber.MethodOptions:
		return fiber.MethodOptions
	}
	return "OTHER"
}

// statusText is the label of a status code in metrics.
func statusText(code int) string { return strconv.Itoa(code) }

// Locals keys of restartDeadline.
type (
	timeoutKey   struct{} // REQUEST_TIMEOUT, set by accessLog
	restartedKey struct{} // the cancel of the restarted deadline
)

// restartDeadline gives the request's database work its whole
// REQUEST_TIMEOUT from now, once its body is read: a body the client took
// its time to send (an upload streamed into staging, bounded by
// READ_TIMEOUT) must not eat the time of the work that follows.
func restartDeadline(c *fiber.Ctx) {
	timeout, ok := c.Locals(timeoutKey{}).(time.Duration)
	if !ok {
		return
	}
	if prev, ok := c.Locals(restartedKey{}).(context.CancelFunc); ok {
		prev()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	c.Locals(restartedKey{}, cancel)
	c.SetUserContext(ctx)
}
