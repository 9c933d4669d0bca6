package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/auth"
)

// errCrossSite: an unsafe request authenticated by the cookie (or a
// sign-in) came from another site.
var errCrossSite = errors.New("cross-site request with the session cookie")

// sameSiteCookieWrites refuses (403) an unsafe request from another site
// when the browser authenticates it by itself — the `token` cookie is its
// credential (auth.ByCookie: no Bearer header; another scheme such as the
// Basic a browser adds for a site behind HTTP Basic auth does not count) —
// and a sign-in (POST /admin/sesion), which would otherwise set a foreign
// page's token as the victim's cookie. The browser attaches the cookie to a
// form or fetch from any page, so without this a foreign page could write
// as the signed-in admin (a `text/plain` POST needs no preflight). A Bearer
// request is unaffected: a foreign page cannot set that header.
//
// Which requests are cross-site is Go's net/http.CrossOriginProtection,
// called through an adapter (crossOriginCheck): safe methods always pass;
// Sec-Fetch-Site decides when the browser sent it (same-origin or none
// pass, same-site and cross-site are refused unless their Origin is
// trusted); Origin against Host only when it did not. Comparing Origin with
// Host first refused every upload of Balsamoa's panel behind a proxy that
// rewrites Host (deploy/nginx/balsamoa.conf on a port other than 80: $host
// drops it), though the browser said same-origin. It reads only headers,
// so it runs before any body is read (NewApp).
func sameSiteCookieWrites(cop *http.CrossOriginProtection) fiber.Handler {
	if cop == nil {
		cop = http.NewCrossOriginProtection()
	}
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return c.Next()
		}
		if !auth.ByCookie(c) && !isSignIn(c.Path()) {
			return c.Next()
		}
		if err := crossOriginCheck(cop, c); err != nil {
			c.Context().SetConnectionClose() // its body is left unread
			return errCrossSite
		}
		return c.Next()
	}
}

// crossOriginCheck asks cop about the request: an *http.Request with what
// CrossOriginProtection.Check reads (method, Host, the Sec-Fetch-Site and
// Origin headers, the path for bypass patterns). It lives only for the call,
// so the strings may alias fasthttp's buffers.
func crossOriginCheck(cop *http.CrossOriginProtection, c *fiber.Ctx) error {
	h := make(http.Header, 2)
	if v := c.Get("Sec-Fetch-Site"); v != "" {
		h["Sec-Fetch-Site"] = []string{v}
	}
	if v := c.Get(fiber.HeaderOrigin); v != "" {
		h["Origin"] = []string{v}
	}
	r := &http.Request{
		Method: c.Method(),
		Host:   string(c.Request().Host()),
		Header: h,
		URL:    &url.URL{Path: c.Path()},
	}
	return cop.Check(r)
}

// isSignIn: the admin page's sign-in route, as Fiber routes it (any case,
// a trailing slash).
func isSignIn(path string) bool {
	return strings.EqualFold(strings.TrimSuffix(path, "/"), "/admin/sesion")
}

// CrossOrigin builds the cross-site rule with the origins trusted to send
// cookie writes from another site (TRUSTED_ORIGINS: scheme://host[:port]
// each); an origin Go refuses is an error naming it.
func CrossOrigin(trusted []string) (*http.CrossOriginProtection, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range trusted {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	return cop, nil
}
