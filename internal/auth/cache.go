package auth

import (
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// A client sends the same token with every request until it expires; fully
// verifying it each time (base64, the claims' JSON into a map, the HMAC or
// RSA check, the claim rules) was the largest user-space cost of a delete
// under load (~13 % of the server's CPU in the profile). So a token that
// passed the full verification is remembered, keyed by its exact text, with
// what the verification concluded: the caller and the Balsamoa session to
// check. The same bytes verify the same way under the same keys, so a hit
// is the full verification's answer, except for what changes with time:
//
//   - exp: a hit past the token's exp is refused (401), as the parser would;
//   - a Balsamoa session is looked up in usuarios on every request, hit or
//     not, so a logout revokes at once;
//   - keys: an RS256 token's key is looked up in the JWKS on every hit (a
//     map lookup), so a key dropped from the set stops admitting its tokens
//     as soon as the set is fetched again (JWKSRefresh); and an entry is
//     trusted at most verifiedTTL, after which the token is verified again.
//
// Only tokens that passed go in: a bad token costs a full verification every
// time, as before, and cannot fill the cache. The admin page's sign-in
// (Verify) is not cached.
const (
	verifiedSize = 4096
	verifiedTTL  = time.Minute
)

// verifiedToken is what the full verification of one token concluded.
type verifiedToken struct {
	user    User
	session session
	exp     time.Time // zero: the token has none (AllowNoExp)
	// kid is the JWKS key an RS256 token was verified with ("" for HS256).
	kid   string
	rs256 bool
	until time.Time // trusted until then (at most verifiedTTL after the check)
}

// verifiedCache is a bounded LRU of verified tokens by their raw text.
type verifiedCache struct {
	lru *lru.Cache[string, verifiedToken]
}

func newVerifiedCache() *verifiedCache {
	c, err := lru.New[string, verifiedToken](verifiedSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &verifiedCache{lru: c}
}

// remember keeps tok's verdict. tok.Raw aliases the request's buffer, so the
// key is a copy.
func (v *verifiedCache) remember(tok *jwt.Token, u User, s session, now time.Time) {
	if tok == nil || tok.Raw == "" {
		return
	}
	e := verifiedToken{user: u, session: s, until: now.Add(verifiedTTL)}
	if exp, err := tok.Claims.GetExpirationTime(); err == nil && exp != nil {
		e.exp = exp.Time
		if e.exp.Before(e.until) {
			e.until = e.exp
		}
	}
	if tok.Method == jwt.SigningMethodRS256 {
		e.rs256 = true
		kid, _ := tok.Header["kid"].(string)
		e.kid = strings.Clone(kid)
	}
	e.user.Sub = strings.Clone(u.Sub)
	e.session.id = strings.Clone(s.id)
	v.lru.Add(strings.Clone(tok.Raw), e)
}

// required is the authentication middleware: authenticate, then the route.
func (a *Auth) required(c *fiber.Ctx) error {
	if _, err := a.Authenticate(c); err != nil {
		return err
	}
	return c.Next()
}

// Authenticate verifies the request's token and keeps its caller on the
// request, where FromCtx finds it: a request already verified (the handlers
// check a token before reading a large body, and Required runs after) is
// not checked twice; a remembered token still within its time is admitted
// (its session checked), an expired one refused; anything else is verified
// in full by mw, which remembers what passes. Errors wrap ErrUnauthorized,
// or are the session lookup's own.
func (a *Auth) Authenticate(c *fiber.Ctx) (User, error) {
	if u, ok := FromCtx(c); ok {
		return u, nil
	}
	if err := a.lookup(c); err != nil {
		return User{}, err
	}
	u, ok := FromCtx(c)
	if !ok { // mw answered without a verdict: never, but not a pass
		return User{}, ErrUnauthorized
	}
	return u, nil
}

// lookup is the cache, else mw; either keeps the caller on the request.
func (a *Auth) lookup(c *fiber.Ctx) error {
	raw := rawToken(c)
	if raw == "" {
		return a.mw(c)
	}
	e, ok := a.verified.lru.Get(raw) // the lookup keeps no reference to raw
	if !ok {
		return a.mw(c)
	}
	now := a.now()
	if !e.exp.IsZero() && !now.Before(e.exp) {
		a.verified.lru.Remove(raw)
		return fmt.Errorf("%w: token is expired", ErrUnauthorized)
	}
	if !now.Before(e.until) || !a.keyStillThere(e) {
		a.verified.lru.Remove(raw)
		return a.mw(c)
	}
	if err := a.checkSession(c.UserContext(), e.session); err != nil {
		return err
	}
	c.Locals(localsKey, e.user)
	return nil
}

// keyStillThere: the key an RS256 entry was verified with is still in the
// JWKS as last fetched. When it is not, the full verification decides (and
// refuses the token).
func (a *Auth) keyStillThere(e verifiedToken) bool {
	if !e.rs256 {
		return true
	}
	if a.jwks == nil {
		return false
	}
	_, err := a.jwks.Keyfunc(&jwt.Token{Method: jwt.SigningMethodRS256, Header: map[string]any{"alg": "RS256", "kid": e.kid}})
	return err == nil
}

// ByCookie reports whether the request's credential is the `token` cookie:
// what Authenticate would verify is not a Bearer header (none, or another
// scheme such as the Basic a browser adds by itself for a site behind HTTP
// Basic auth). Such a request is one a browser authenticates on its own, so
// the cross-site rule applies to it.
func ByCookie(c *fiber.Ctx) bool {
	_, bearer := bearerToken(c)
	return !bearer && c.Cookies("token") != ""
}

// rawToken is the token mw would verify, found the same way
// (TokenLookup "header:Authorization,cookie:token", scheme "Bearer"): a
// well-formed Bearer header first, else the cookie. When it differs from
// what mw would take, the lookup misses and mw decides, so a hit is always
// for the token mw would have checked.
func rawToken(c *fiber.Ctx) string {
	if t, ok := bearerToken(c); ok {
		return t
	}
	return c.Cookies("token")
}

// bearerToken is the token of a well-formed Bearer Authorization header
// (contrib/jwt's own test: the scheme, a space, at least two more bytes,
// not all blank — a blank one makes contrib/jwt fall back to the cookie).
func bearerToken(c *fiber.Ctx) (string, bool) {
	const scheme = "Bearer "
	if h := c.Get(fiber.HeaderAuthorization); len(h) > len(scheme)+1 && strings.EqualFold(h[:len(scheme)], scheme) {
		t := strings.TrimSpace(h[len(scheme):])
		return t, t != ""
	}
	return "", false
}
