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
//   - keys: an entry is trusted at most verifiedTTL, after which the token is
//     verified again, so a key dropped from the JWKS stops admitting its
//     tokens within that time (the JWKS refresh itself is hourly).
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
	until   time.Time // trusted until then (at most verifiedTTL after the check)
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
	e.user.Sub = strings.Clone(u.Sub)
	e.session.id = strings.Clone(s.id)
	v.lru.Add(strings.Clone(tok.Raw), e)
}

// required is the authentication middleware: a remembered token still
// within its time is admitted (its session checked), an expired one refused,
// anything else verified in full by mw, which remembers what passes.
func (a *Auth) required(c *fiber.Ctx) error {
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
	if !now.Before(e.until) {
		a.verified.lru.Remove(raw)
		return a.mw(c)
	}
	if err := a.checkSession(c.UserContext(), e.session); err != nil {
		return err
	}
	c.Locals(localsKey, e.user)
	return c.Next()
}

// rawToken is the token mw would verify, found the same way
// (TokenLookup "header:Authorization,cookie:token", scheme "Bearer"): a
// well-formed Bearer header first, else the cookie. When it differs from
// what mw would take, the lookup misses and mw decides, so a hit is always
// for the token mw would have checked.
func rawToken(c *fiber.Ctx) string {
	const scheme = "Bearer "
	if h := c.Get(fiber.HeaderAuthorization); len(h) > len(scheme)+1 && strings.EqualFold(h[:len(scheme)], scheme) {
		return strings.TrimSpace(h[len(scheme):])
	}
	return c.Cookies("token")
}
