package handlers

import (
	"errors"
	"net/url"

	"github.com/gofiber/fiber/v2"
)

// errCrossSite: an unsafe request authenticated by the cookie came from
// another site.
var errCrossSite = errors.New("cross-site request with the session cookie")

// sameSiteCookieWrites refuses (403) an unsafe request (POST, PUT, PATCH,
// DELETE) that would be authenticated by the `token` cookie — it carries the
// cookie and no Authorization header — when the browser says it comes from
// another site: `Sec-Fetch-Site: cross-site`, or an `Origin` whose host is
// not this request's Host (or is "null"). The browser attaches the cookie to
// a form or fetch from any page, so without this a foreign page could write
// as the signed-in admin (a `text/plain` POST needs no preflight). Bearer
// requests are unaffected: a foreign page cannot set that header. Every
// route gets it (NewApp applies it before the routes), the admin pages
// included; it reads only headers, so it runs before any body is parsed.
func sameSiteCookieWrites() fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return c.Next()
		}
		if c.Get(fiber.HeaderAuthorization) != "" || c.Cookies("token") == "" {
			return c.Next()
		}
		if c.Get("Sec-Fetch-Site") == "cross-site" {
			return errCrossSite
		}
		if o := c.Get(fiber.HeaderOrigin); o != "" {
			u, err := url.Parse(o)
			if err != nil || u.Host == "" || u.Host != string(c.Request().Host()) {
				return errCrossSite
			}
		}
		return c.Next()
	}
}
