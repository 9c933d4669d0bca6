package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Presigner gives a short-lived GET url of a live object: the object
// store's presigned urls, when STORAGE_REDIRECT=true. A missing object is
// storage.ErrNotExist.
type Presigner interface {
	Presign(ctx context.Context, url string, ttl time.Duration) (string, error)
}

// redirector answers image reads with a 302 to a presigned url, so the
// bytes go from the bucket to the client without passing through here.
type redirector struct {
	presign Presigner
	ttl     time.Duration
}

func (r redirector) on() bool { return r.presign != nil }

// redirect answers 302 to the presigned url of the live object u (a
// checked local url), with cache as its Cache-Control.
func (r redirector) redirect(c *fiber.Ctx, u, cache string) error {
	to, err := r.presign.Presign(c.UserContext(), u, r.ttl)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, cache)
	return c.Redirect(to, fiber.StatusFound)
}
