package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// unmatchedRoute is the route label of a request no registered route
// matches (an unknown path, or a known one with another method): the raw
// path would make the label set unbounded.
const unmatchedRoute = "unmatched"

// routeLabels finds the route pattern a request was sent to, for the
// metrics and the access log. c.Route() names it only once routing reached
// the endpoint: a request refused by a middleware before that (a 401 of the
// admin group's token check, a 413 of the body gate, which runs on every
// path) carries the middleware's prefix ("/api/v1/admin", "/") instead.
// Such a request is matched here against the app's endpoints by method and
// path, as Fiber's router matches them (case-insensitive, a trailing slash
// ignored, ":param" one segment, "*" the rest).
//
// It is filled once every route is registered (seal) and read-only after.
type routeLabels struct {
	// endpoints holds each endpoint's first handler, by address: a route's
	// Handlers slice is shared by the copies Fiber makes of it (HEAD beside
	// GET), never with a middleware's, so this tells c.Route() apart
	// without Fiber's unexported use flag.
	endpoints map[*fiber.Handler]bool
	byMethod  map[string][]routePattern
}

type routePattern struct {
	path     string   // the pattern as registered: the label
	segments []string // lower-cased; ":x" one segment, "*" or "+" the rest
}

// seal reads app's endpoints; call it once every route is registered.
func (rl *routeLabels) seal(app *fiber.App) {
	rl.endpoints = map[*fiber.Handler]bool{}
	rl.byMethod = map[string][]routePattern{}
	for _, r := range app.GetRoutes(true) {
		if len(r.Handlers) == 0 {
			continue
		}
		rl.endpoints[&r.Handlers[0]] = true
		rl.byMethod[r.Method] = append(rl.byMethod[r.Method], routePattern{path: r.Path, segments: splitPath(strings.ToLower(r.Path))})
	}
}

// of is c's route label: the pattern of the endpoint c reached, else of the
// one its method and path would have reached, else unmatchedRoute. The
// pattern is the app's own string, never the request's bytes.
func (rl *routeLabels) of(c *fiber.Ctx) string {
	r := c.Route()
	if len(r.Handlers) > 0 && rl.endpoints[&r.Handlers[0]] {
		return r.Path
	}
	if p, ok := rl.lookup(c.Method(), c.Path()); ok {
		return p
	}
	return unmatchedRoute
}

func (rl *routeLabels) lookup(method, path string) (string, bool) {
	pats := rl.byMethod[method]
	if len(pats) == 0 {
		return "", false
	}
	segs := splitPath(strings.ToLower(path))
	for _, p := range pats {
		if p.match(segs) {
			return p.path, true
		}
	}
	return "", false
}

func (p routePattern) match(segs []string) bool {
	for i, s := range p.segments {
		switch {
		case s == "*" || s == "+":
			return s == "*" || i < len(segs)
		case i >= len(segs):
			return false
		case s[0] == ':':
			if segs[i] == "" {
				return false
			}
		case s != segs[i]:
			return false
		}
	}
	return len(segs) == len(p.segments)
}

// splitPath: "/a/b/" → [a b]; "/" → [].
func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
