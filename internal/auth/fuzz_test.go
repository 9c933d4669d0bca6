package auth

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
)

// Fixed times, so that the tokens below are the same in every fuzz worker
// and in the committed corpus: valid until 2100, expired since 2001.
var (
	fuzzIat    = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	fuzzFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	fuzzPast   = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

const (
	fuzzSecret   = "fuzz-secret-0123456789abcdef"
	fuzzIssuer   = "https://issuer.test/"
	fuzzAudience = "imagenes"
	fuzzKID      = "fuzz-k1"
)

// fuzzKey is a test-only RSA key committed in testdata, so that RS256
// tokens are deterministic across runs.
func fuzzKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	b, err := os.ReadFile("testdata/fuzz-rsa-key.pem")
	if err != nil {
		tb.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		tb.Fatal("testdata/fuzz-rsa-key.pem: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func fuzzJWKS(tb testing.TB, key *rsa.PrivateKey) string {
	n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": fuzzKID, "use": "sig", "alg": "RS256", "n": n, "e": e}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
	tb.Cleanup(srv.Close)
	return srv.URL
}

func fuzzClaims(extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "carol", "iss": fuzzIssuer, "aud": fuzzAudience, "iat": fuzzIat, "exp": fuzzFuture}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func fuzzSign(tb testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = fuzzKID
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// sameToken reports whether a and b are one token: the same signed
// segments and the same signature bytes. Base64url lets the last character
// of a signature carry unused low bits, so two spellings can decode to the
// same signature; that is not a forgery (nothing signed changed).
func sameToken(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != 3 || len(pb) != 3 || pa[0] != pb[0] || pa[1] != pb[1] {
		return false
	}
	sa, err1 := base64.RawURLEncoding.DecodeString(pa[2])
	sb, err2 := base64.RawURLEncoding.DecodeString(pb[2])
	return err1 == nil && err2 == nil && bytes.Equal(sa, sb)
}

// FuzzToken sends arbitrary strings, and mutations of valid and invalid
// tokens, through the middleware as a bearer header or the cookie. It never
// panics, and a token is accepted only if it is one of the valid tokens
// minted here (the fuzzer cannot sign, so anything else accepted would be a
// forgery: alg none, HS/RS confusion, a changed claim, an expired token).
func FuzzToken(f *testing.F) {
	key := fuzzKey(f)
	a, err := New(Config{Secret: fuzzSecret, JWKSURL: fuzzJWKS(f, key), Issuer: fuzzIssuer, Audience: fuzzAudience})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(fiber.StatusUnauthorized).SendString("no")
	}})
	app.Get("/", a.Required(), func(c *fiber.Ctx) error {
		u, _ := FromCtx(c)
		return c.SendString("sub=" + u.Sub)
	})

	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustDER(f, &key.PublicKey)})
	valid := []string{
		fuzzSign(f, jwt.SigningMethodHS256, []byte(fuzzSecret), fuzzClaims(nil)),
		fuzzSign(f, jwt.SigningMethodHS256, []byte(fuzzSecret), fuzzClaims(jwt.MapClaims{"role": "admin"})),
		fuzzSign(f, jwt.SigningMethodRS256, key, fuzzClaims(nil)),
		fuzzSign(f, jwt.SigningMethodRS256, key, fuzzClaims(jwt.MapClaims{"roles": []string{"admin"}, "aud": []string{"x", fuzzAudience}})),
	}
	invalid := []string{
		fuzzSign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, fuzzClaims(nil)),
		fuzzSign(f, jwt.SigningMethodHS256, pub, fuzzClaims(nil)),
		fuzzSign(f, jwt.SigningMethodRS512, key, fuzzClaims(nil)),
		fuzzSign(f, jwt.SigningMethodHS256, []byte("another-secret-0123456789"), fuzzClaims(nil)),
		fuzzSign(f, jwt.SigningMethodHS256, []byte(fuzzSecret), fuzzClaims(jwt.MapClaims{"exp": fuzzPast})),
		fuzzSign(f, jwt.SigningMethodRS256, key, fuzzClaims(jwt.MapClaims{"nbf": fuzzFuture})),
		fuzzSign(f, jwt.SigningMethodRS256, key, fuzzClaims(jwt.MapClaims{"iss": "https://evil.test/"})),
		fuzzSign(f, jwt.SigningMethodHS256, []byte(fuzzSecret), fuzzClaims(jwt.MapClaims{"aud": "other"})),
		fuzzSign(f, jwt.SigningMethodHS256, []byte(fuzzSecret), fuzzClaims(jwt.MapClaims{"sub": nil})),
		fuzzSign(f, jwt.SigningMethodHS256, []byte(fuzzSecret), fuzzClaims(jwt.MapClaims{"sub": 12})),
		fuzzSign(f, jwt.SigningMethodHS256, []byte(fuzzSecret), fuzzClaims(jwt.MapClaims{"exp": "soon"})),
		"", "Bearer", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "..", strings.Repeat("A", 5000),
	}
	for _, tok := range valid {
		f.Add(tok, false)
		f.Add(tok, true)
	}
	for _, tok := range invalid {
		f.Add(tok, false)
	}

	// The seeds themselves: every valid token verifies, no invalid one does.
	for _, tok := range valid {
		if st, _ := verify(f, app, tok, false); st != fiber.StatusOK {
			f.Fatalf("valid seed token got %d, want 200: %s", st, tok)
		}
	}
	f.Fuzz(func(t *testing.T, tok string, cookie bool) {
		st, body := verify(t, app, tok, cookie)
		switch st {
		case fiber.StatusOK:
			for _, v := range valid {
				if sameToken(strings.TrimSpace(tok), v) {
					if body != "sub=carol" {
						t.Fatalf("got body %q, want sub=carol", body)
					}
					return
				}
			}
			t.Fatalf("a token that is none of the valid ones was accepted (body %q): %q", body, tok)
		case fiber.StatusUnauthorized:
		default:
			t.Fatalf("got status %d for %q, want 200 or 401", st, tok)
		}
	})
}

func verify(tb testing.TB, app *fiber.App, tok string, cookie bool) (int, string) {
	tb.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if cookie {
		r.Header.Set("Cookie", "token="+tok)
	} else {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := app.Test(r, -1)
	if err != nil {
		// The request could not even be written (a header value the
		// client library refuses): nothing reached the middleware.
		return fiber.StatusUnauthorized, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func mustDER(tb testing.TB, pub *rsa.PublicKey) []byte {
	tb.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
