package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

const cacheSecret = "cache-test-secret-0123456789abcdef"

// fakeSessions is Balsamoa's usuarios table as the test sets it: the open
// session of each user.
type fakeSessions struct {
	mu     sync.Mutex
	open   map[int64]string
	lookup int
}

func (f *fakeSessions) SesionActiva(_ context.Context, id int64, s string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookup++
	return f.open[id] == s, nil
}

// cacheApp serves GET / behind Required with a clock the test moves; the
// answer is the caller's sub, an error is its status.
func cacheApp(t testing.TB, cfg Config) (*Auth, *fiber.App, *time.Time) {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a.now = func() time.Time { return now }
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		if errors.Is(err, ErrUnauthorized) {
			return c.SendStatus(fiber.StatusUnauthorized)
		}
		return c.SendStatus(fiber.StatusInternalServerError)
	}})
	app.Get("/", a.Required(), func(c *fiber.Ctx) error {
		u, _ := FromCtx(c)
		return c.SendString(u.Sub)
	})
	return a, app, &now
}

func hs(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(cacheSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get sends token as a Bearer header (cookie: as the cookie "token"; both
// when both are set) and returns the status and body.
func get(t testing.TB, app *fiber.App, bearer, cookie string) (int, string) {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	if cookie != "" {
		r.Header.Set("Cookie", "token="+cookie)
	}
	res, err := app.Test(r, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestVerifiedCache: a remembered token gets exactly the answer the full
// verification would give — refused once expired, its Balsamoa session
// checked on every request, verified again after verifiedTTL — and only
// tokens that passed are remembered.
func TestVerifiedCache(t *testing.T) {
	real := time.Now()
	good := hs(t, jwt.MapClaims{"sub": "ana", "exp": real.Add(time.Hour).Unix()})
	sessions := &fakeSessions{open: map[int64]string{7: "s1"}}
	balsamoa := hs(t, jwt.MapClaims{"id": 7, "rol": "1", "sesion_id": "s1", "exp": real.Add(time.Hour).Unix()})
	tests := []struct {
		name string
		// steps: each moves the clock by advance (from the start), may
		// change the open sessions, then sends the token.
		token  string
		cookie bool
		steps  []cacheStep
	}{
		{"reused within its time: remembered, same caller", good, false, []cacheStep{
			{want: 200, body: "ana", cached: true}, {want: 200, body: "ana", cached: true}}},
		{"from the cookie too", good, true, []cacheStep{
			{want: 200, body: "ana", cached: true}, {want: 200, body: "ana", cached: true}}},
		{"past its exp: refused from the cache, forgotten", good, false, []cacheStep{
			{want: 200, cached: true}, {advance: time.Hour, want: 401, cached: false}}},
		{"after verifiedTTL: verified again, remembered again", good, false, []cacheStep{
			{want: 200, cached: true}, {advance: verifiedTTL, want: 200, body: "ana", cached: true}}},
		{"balsamoa session: revoked after being remembered is 401", balsamoa, false, []cacheStep{
			{want: 200, body: "7", cached: true},
			{close: true, want: 401, cached: true},
			{reopen: true, want: 200, body: "7", cached: true}}},
		{"bad signature: refused, never remembered", good[:len(good)-2] + "xx", false, []cacheStep{
			{want: 401, cached: false}, {want: 401, cached: false}}},
		{"expired at the first request: never remembered", hs(t, jwt.MapClaims{"sub": "ana", "exp": real.Add(-time.Second).Unix()}), false, []cacheStep{
			{want: 401, cached: false}}},
		{"no exp: refused, never remembered", hs(t, jwt.MapClaims{"sub": "ana"}), false, []cacheStep{
			{want: 401, cached: false}}},
		{"balsamoa token naming no session beside usuarios: refused, never remembered", hs(t, jwt.MapClaims{"id": 7, "rol": "1", "exp": real.Add(time.Hour).Unix()}), true, []cacheStep{
			{want: 401, cached: false}, {want: 401, cached: false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, app, now := cacheApp(t, Config{Secret: cacheSecret, Sessions: sessions})
			start := *now
			for i, s := range tt.steps {
				*now = start.Add(s.advance)
				sessions.mu.Lock()
				if s.close {
					sessions.open[7] = "rotated"
				}
				if s.reopen {
					sessions.open[7] = "s1"
				}
				sessions.mu.Unlock()
				bearer, cookie := tt.token, ""
				if tt.cookie {
					bearer, cookie = "", tt.token
				}
				status, body := get(t, app, bearer, cookie)
				if status != s.want || (s.body != "" && body != s.body) {
					t.Errorf("step %d: got %d %q, want %d %q", i, status, body, s.want, s.body)
				}
				if got := a.verified.lru.Contains(tt.token); got != s.cached {
					t.Errorf("step %d: remembered %v, want %v", i, got, s.cached)
				}
			}
		})
	}

	t.Run("a header takes precedence over a remembered cookie, as in the full check", func(t *testing.T) {
		a, app, _ := cacheApp(t, Config{Secret: cacheSecret})
		if status, _ := get(t, app, "", good); status != 200 || !a.verified.lru.Contains(good) {
			t.Fatalf("cookie alone: got %d, want 200 and remembered", status)
		}
		if status, _ := get(t, app, "not-a-token", good); status != 401 {
			t.Errorf("bad header beside a remembered cookie: got %d, want 401", status)
		}
	})

	t.Run("bounded: the least recently used goes", func(t *testing.T) {
		a, app, _ := cacheApp(t, Config{Secret: cacheSecret})
		first := hs(t, jwt.MapClaims{"sub": "u0", "exp": real.Add(time.Hour).Unix()})
		get(t, app, first, "")
		for i := 1; i <= verifiedSize; i++ {
			tok := hs(t, jwt.MapClaims{"sub": "u" + strconv.Itoa(i), "exp": real.Add(time.Hour).Unix()})
			a.verified.remember(mustParse(t, tok), User{Sub: "u" + strconv.Itoa(i)}, session{}, a.now())
		}
		if n := a.verified.lru.Len(); n != verifiedSize {
			t.Errorf("%d entries, want %d", n, verifiedSize)
		}
		if a.verified.lru.Contains(first) {
			t.Error("the oldest token is still remembered")
		}
		if status, body := get(t, app, first, ""); status != 200 || body != "u0" {
			t.Errorf("evicted token: got %d %q, want 200 u0 (verified in full)", status, body)
		}
	})
}

type cacheStep struct {
	advance       time.Duration
	close, reopen bool // rotate user 7's session away, or back
	want          int
	body          string
	cached        bool // remembered after the step
}

func mustParse(t testing.TB, raw string) *jwt.Token {
	t.Helper()
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return []byte(cacheSecret), nil })
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// BenchmarkRequired: the token check of one request, verified in full
// (every request a token not seen before, as before the cache) and from the
// cache (the same token again). Driven through the app's handler on a
// fasthttp RequestCtx, without a network.
//
//	go test -run '^$' -bench Required -benchmem ./internal/auth/
func BenchmarkRequired(b *testing.B) {
	_, app, _ := cacheApp(b, Config{Secret: cacheSecret})
	h := app.Handler()
	exp := time.Now().Add(time.Hour).Unix()
	toks := make([]string, 1024)
	for i := range toks {
		toks[i] = hs(b, jwt.MapClaims{"sub": "admin", "role": "admin", "exp": exp, "iat": int64(i)})
	}
	for _, bb := range []struct {
		name  string
		token func(i int) string
	}{
		{"full-verification", func(i int) string { return toks[i%len(toks)] }},
		{"cached", func(int) string { return toks[0] }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if bb.name == "full-verification" && i%len(toks) == 0 {
					b.StopTimer()
					_, app, _ = cacheApp(b, Config{Secret: cacheSecret})
					h = app.Handler()
					b.StartTimer()
				}
				ctx.Request.Reset()
				ctx.Request.SetRequestURI("/")
				ctx.Request.Header.Set("Authorization", "Bearer "+bb.token(i))
				h(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatal(fmt.Sprint(ctx.Response.StatusCode()))
				}
			}
		})
	}
}
