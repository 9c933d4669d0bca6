// Package auth verifies the bearer tokens of both API families with
// gofiber/contrib/jwt: HS256 with a shared secret, RS256 from a JWKS (Auth0),
// issuer and audience when configured, and the admin rule of SPEC §3.
//
// Only the configured algorithms are accepted: the key function decides by
// the token's alg header, so `none`, an HS256 token signed with the RSA public
// key, or any other algorithm get no key and fail verification.
package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/MicahParks/keyfunc/v2"
	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/config"
)

// Errors the middlewares return; the app's ErrorHandler maps them to 401 and
// 403 in the body shape of the route's family.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden: admin role required")
	errAlgorithm    = errors.New("algorithm not accepted")
)

// Config says which tokens are accepted.
type Config struct {
	Secret  string // enables HS256
	JWKSURL string // enables RS256
	// JWKSRefresh is how often the JWKS is fetched again (JWKS_REFRESH;
	// 0: DefaultJWKSRefresh), so a key removed from it stops admitting
	// tokens within that time.
	JWKSRefresh time.Duration
	Issuer      string // checked when set
	Audience    string // checked when set
	// AdminRoles are the values of a Balsamoa token's "rol" that make it
	// admin (JWT_ADMIN_ROLES); nil means Balsamoa's Administrador, "1".
	AdminRoles []string
	// Sessions, when not nil, is asked whether a Balsamoa token's session is
	// still open (the database has Balsamoa's usuarios table).
	Sessions Sessions
	// AllowNoExp accepts tokens without "exp" (JWT_REQUIRE_EXP=false);
	// by default such a token, valid forever, is refused.
	AllowNoExp bool
	// Log receives the JWKS refresh failures (nil: discarded), which would
	// otherwise leave tokens failing with no trace of why.
	Log *zap.Logger
}

// Sessions knows Balsamoa's sessions: a token carrying "sesion_id" is valid
// only while its user is active with that session, which Balsamoa rotates
// on logout and remote sign-out.
type Sessions interface {
	SesionActiva(ctx context.Context, usuarioID int64, sesionID string) (bool, error)
}

// DefaultJWKSRefresh is JWKS_REFRESH's default.
const DefaultJWKSRefresh = time.Minute

// DefaultAdminRoles is JWT_ADMIN_ROLES's default: Balsamoa's seed data has
// one role, roles(1, 'Administrador').
var DefaultAdminRoles = []string{"1"}

// User is the verified caller.
type User struct {
	Sub   string
	Admin bool
}

// localsKey is where the verified User is kept on the request.
const localsKey = "imagenes.user"

// Auth verifies tokens.
type Auth struct {
	cfg  Config
	jwks *keyfunc.JWKS
	mw   fiber.Handler
	// verified remembers tokens that passed mw (see cache.go); now is its
	// clock (a test's, in tests).
	verified *verifiedCache
	now      func() time.Time
}

// New prepares verification. With a JWKS URL it fetches the key set once
// (failing start-up if it cannot) and refreshes it in the background. With
// neither a secret nor a JWKS URL every token is refused.
func New(cfg Config) (*Auth, error) {
	if cfg.AdminRoles == nil {
		cfg.AdminRoles = DefaultAdminRoles
	}
	a := &Auth{cfg: cfg, now: time.Now, verified: newVerifiedCache()}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.JWKSRefresh <= 0 {
		cfg.JWKSRefresh = DefaultJWKSRefresh
	}
	a.cfg = cfg
	if cfg.JWKSURL != "" {
		jwks, err := keyfunc.Get(cfg.JWKSURL, keyfunc.Options{
			// The set is fetched again every JWKSRefresh (it was hourly,
			// so a removed key kept working for up to an hour where the
			// README said a minute). The rate limit of refreshes asked
			// by unknown kids is no longer than that: keyfunc throttles
			// the interval's own refreshes by it too.
			RefreshInterval:   cfg.JWKSRefresh,
			RefreshRateLimit:  min(cfg.JWKSRefresh, 5*time.Minute),
			RefreshTimeout:    10 * time.Second,
			RefreshUnknownKID: true,
			RefreshErrorHandler: func(err error) {
				log.Error("jwks refresh failed", zap.String("url", config.RedactURL(cfg.JWKSURL)), zap.Error(err))
			},
		})
		if err != nil {
			return nil, fmt.Errorf("fetch jwks: %w", err)
		}
		a.jwks = jwks
	}
	a.mw = jwtware.New(jwtware.Config{
		KeyFunc:     a.keyFunc,
		TokenLookup: "header:Authorization,cookie:token",
		AuthScheme:  "Bearer",
		ContextKey:  "imagenes.token",
		SuccessHandler: func(c *fiber.Ctx) error {
			tok, _ := c.Locals("imagenes.token").(*jwt.Token)
			u, s, err := a.claimsUser(tok)
			if err != nil {
				return err
			}
			if err := a.checkSession(c.UserContext(), s); err != nil {
				return err
			}
			a.verified.remember(tok, u, s, a.now())
			c.Locals(localsKey, u)
			return nil // authenticate's caller goes on (required: c.Next)
		},
		ErrorHandler: func(_ *fiber.Ctx, err error) error {
			return fmt.Errorf("%w: %v", ErrUnauthorized, err)
		},
	})
	return a, nil
}

// Close stops the JWKS background refresh.
func (a *Auth) Close() {
	if a.jwks != nil {
		a.jwks.EndBackground()
	}
}

// Required is the middleware that admits any valid token: a token seen and
// verified recently is answered from the cache (cache.go), any other goes
// through the full verification.
func (a *Auth) Required() fiber.Handler { return a.required }

// AdminOnly admits admin callers only; it goes after Required, so no or an
// invalid token has already been answered with ErrUnauthorized and a valid
// non-admin token gets ErrForbidden here.
func (a *Auth) AdminOnly() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if u, ok := FromCtx(c); !ok || !u.Admin {
			return ErrForbidden
		}
		return c.Next()
	}
}

func (a *Auth) keyFunc(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case jwt.SigningMethodHS256.Alg():
		if a.cfg.Secret != "" {
			return []byte(a.cfg.Secret), nil
		}
	case jwt.SigningMethodRS256.Alg():
		if a.jwks != nil {
			return a.jwks.Keyfunc(t)
		}
	}
	return nil, fmt.Errorf("%w: %q", errAlgorithm, t.Method.Alg())
}

// user checks the claims the middleware does not check by itself and maps
// them to the caller: {sub, role} tokens, or Balsamoa's session tokens.
func (a *Auth) user(ctx context.Context, tok *jwt.Token) (User, error) {
	u, s, err := a.claimsUser(tok)
	if err != nil {
		return User{}, err
	}
	return u, a.checkSession(ctx, s)
}

// session is the Balsamoa session a token names: checked against usuarios
// on every request, the cached ones too, so a logout revokes it at once.
// The zero session names none.
type session struct {
	usuario int64
	id      string
}

// claimsUser is everything the claims alone decide: the caller and the
// session still to check.
func (a *Auth) claimsUser(tok *jwt.Token) (User, session, error) {
	if tok == nil {
		return User{}, session{}, ErrUnauthorized
	}
	claims, ok := tok.Claims.(jwt.MapClaims)
	if !ok {
		return User{}, session{}, ErrUnauthorized
	}
	if a.cfg.Issuer != "" {
		if iss, _ := claims.GetIssuer(); iss != a.cfg.Issuer {
			return User{}, session{}, fmt.Errorf("%w: wrong issuer", ErrUnauthorized)
		}
	}
	if a.cfg.Audience != "" {
		aud, _ := claims.GetAudience()
		if !slices.Contains(aud, a.cfg.Audience) {
			return User{}, session{}, fmt.Errorf("%w: wrong audience", ErrUnauthorized)
		}
	}
	if !a.cfg.AllowNoExp {
		if exp, err := claims.GetExpirationTime(); err != nil || exp == nil {
			return User{}, session{}, fmt.Errorf("%w: no exp", ErrUnauthorized)
		}
	}
	sub, _ := claims.GetSubject()
	if sub != "" && !cleanSub(sub) {
		// A NUL or control byte would reach the database as owner_sub
		// and come back as some unrelated 400.
		return User{}, session{}, fmt.Errorf("%w: sub is not printable text", ErrUnauthorized)
	}
	if sub != "" {
		return User{Sub: sub, Admin: isAdmin(claims)}, session{}, nil
	}
	if _, ok := claims["id"]; ok {
		return a.balsamoaUser(claims)
	}
	return User{}, session{}, fmt.Errorf("%w: no sub", ErrUnauthorized)
}

// balsamoaUser maps a token Balsamoa's login signed — {"id", "rol",
// "sesion_id", "iat", "exp"}, no sub — to the caller: the user is its id
// (as text, like any sub), admin when its rol is one of AdminRoles (or by
// the {role} rule, should it carry one). With Sessions, a token must name a
// session and is valid only while that session is open (checkSession): its
// user exists, is activo, and has that sesion_id.
func (a *Auth) balsamoaUser(claims jwt.MapClaims) (User, session, error) {
	id, ok := claimInt(claims["id"])
	if !ok || id < 1 {
		return User{}, session{}, fmt.Errorf("%w: id is not a user id", ErrUnauthorized)
	}
	u := User{Sub: strconv.FormatInt(id, 10), Admin: isAdmin(claims)}
	if rol, ok := claimText(claims["rol"]); ok && slices.Contains(a.cfg.AdminRoles, rol) {
		u.Admin = true
	}
	if a.cfg.Sessions == nil {
		return u, session{}, nil
	}
	sesion, has := claims["sesion_id"]
	if !has {
		// Beside Balsamoa's usuarios table a token is valid only for an
		// existing, active user with that session (SPEC §12), as
		// Balsamoa's own middleware has it: one naming no session passed
		// with no lookup at all, admin after activo=false and for a user
		// id that does not exist.
		return User{}, session{}, fmt.Errorf("%w: no sesion_id", ErrUnauthorized)
	}
	s, ok := sesion.(string)
	if !ok || s == "" {
		return User{}, session{}, fmt.Errorf("%w: sesion_id is not a session id", ErrUnauthorized)
	}
	return u, session{usuario: id, id: s}, nil
}

// checkSession: one lookup by primary key per request, so a revoked
// Balsamoa session is revoked here too.
func (a *Auth) checkSession(ctx context.Context, s session) error {
	if s.id == "" {
		return nil
	}
	open, err := a.cfg.Sessions.SesionActiva(ctx, s.usuario, s.id)
	if err != nil {
		return fmt.Errorf("check balsamoa session: %w", err)
	}
	if !open {
		return fmt.Errorf("%w: session closed", ErrUnauthorized)
	}
	return nil
}

// claimInt reads a whole number claim: a JSON number without a fraction,
// or its decimal text.
func claimInt(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// claimText is a number or string claim as text ("1" for 1 and "1").
func claimText(v any) (string, bool) {
	switch x := v.(type) {
	case float64:
		n, ok := claimInt(x)
		return strconv.FormatInt(n, 10), ok
	case string:
		return x, true
	}
	return "", false
}

// isAdmin: role "admin", or "admin" in roles or permissions.
func isAdmin(claims jwt.MapClaims) bool {
	if r, _ := claims["role"].(string); r == "admin" {
		return true
	}
	for _, k := range []string{"roles", "permissions"} {
		list, _ := claims[k].([]any)
		for _, v := range list {
			if s, _ := v.(string); s == "admin" {
				return true
			}
		}
	}
	return false
}

// FromCtx returns the verified caller; ok is false on routes without auth.
func FromCtx(c *fiber.Ctx) (User, bool) {
	u, ok := c.Locals(localsKey).(User)
	return u, ok
}

// Mint signs an HS256 token for local use (`imagenes token`).
func Mint(cfg Config, sub string, admin bool, ttl time.Duration, now time.Time) (string, error) {
	if cfg.Secret == "" {
		return "", errors.New("JWT_SECRET is not set")
	}
	if sub == "" {
		return "", errors.New("sub must not be empty")
	}
	claims := jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	if admin {
		claims["role"] = "admin"
	}
	if cfg.Issuer != "" {
		claims["iss"] = cfg.Issuer
	}
	if cfg.Audience != "" {
		claims["aud"] = cfg.Audience
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(cfg.Secret))
}

// cleanSub: a sub is valid UTF-8 without control characters, at most 255 bytes.
func cleanSub(s string) bool {
	if len(s) > 255 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Verify checks a token given as text (the admin page's sign-in form) with
// exactly the rules the middleware applies to a header or cookie, and
// returns its caller. Errors wrap ErrUnauthorized.
func (a *Auth) Verify(ctx context.Context, raw string) (User, error) {
	tok, err := jwt.Parse(raw, a.keyFunc)
	if err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	return a.user(ctx, tok)
}
