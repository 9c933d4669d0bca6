package handlers

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
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
func accessLog(log *zap.Logger, m *Metrics, timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		id := c.Get(fiber.HeaderXRequestID)
		if len(id) == 0 || len(id) > 64 || !printable(id) {
			id = uuid.NewString()
		} else {
			id = string([]byte(id)) // copy: Fiber reuses the header buffer
		}
		c.Locals(requestIDKey, id)
		c.Set(fiber.HeaderXRequestID, id)

		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c.SetUserContext(ctx)

		if err := c.Next(); err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		elapsed := time.Since(start)
		route := c.Route().Path
		m.observe(c.Method(), route, status, elapsed)

		fields := []zap.Field{
			zap.String("request_id", id),
			zap.String("method", c.Method()),
			zap.String("route", route),
			zap.String("path", c.Path()),
			zap.Int("status", status),
			zap.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			zap.Int("bytes", len(c.Response().Body())),
		}
		if u, ok := auth.FromCtx(c); ok {
			fields = append(fields, zap.String("sub", u.Sub))
		}
		log.Info("request", fields...)
		return nil
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

// statusText is the label of a status code in metrics.
func statusText(code int) string { return strconv.Itoa(code) }
