package handlers_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagenes/imagenes/internal/auth"
)

// jwksServer serves the public half of key as a JWKS, as Auth0 does.
func jwksServer(t testing.TB, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": e}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/jwks.json"
}

func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	const kid = "k1"
	jwks := jwksServer(t, key, kid)
	e := newEnv(t, envOpts{auth: &auth.Config{Secret: testSecret, JWKSURL: jwks, Issuer: "https://issuer.test/", Audience: "imagenes"}})
	id := e.uploadCat(mintWith(t, jwt.MapClaims{"sub": "carol", "iss": "https://issuer.test/", "aud": "imagenes"}), pngBytes)
	_ = id

	now := time.Now()
	good := func(extra jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "carol", "iss": "https://issuer.test/", "aud": "imagenes", "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&key.PublicKey))})
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", good(nil))

	tests := []struct {
		name       string
		token      string
		cookie     bool
		path       string
		wantStatus int
	}{
		{"RS256 from the JWKS", sign(t, jwt.SigningMethodRS256, key, kid, good(nil)), false, "/api/images", 200},
		{"HS256 with the secret", sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", good(nil)), false, "/api/images", 200},
		{"token in the cookie", sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", good(nil)), true, "/api/images", 200},
		{"admin by role", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"role": "admin"})), false, "/api/v1/admin/imagenes", 200},
		{"admin by roles", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"roles": []string{"editor", "admin"}})), false, "/api/v1/admin/imagenes", 200},
		{"admin by permissions", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"permissions": []string{"admin"}})), false, "/api/v1/admin/imagenes", 200},
		{"admin cookie on Balsamoa", sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", good(jwt.MapClaims{"role": "admin"})), true, "/api/v1/admin/imagenes", 200},
		{"role user is not admin", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"role": "user"})), false, "/api/v1/admin/imagenes", 403},
		{"alg none", noneTok, false, "/api/images", 401},
		{"HS256 signed with the RSA public key", sign(t, jwt.SigningMethodHS256, pubPEM, kid, good(nil)), false, "/api/images", 401},
		{"RS256 from another key", sign(t, jwt.SigningMethodRS256, other, kid, good(nil)), false, "/api/images", 401},
		{"RS512", sign(t, jwt.SigningMethodRS512, key, kid, good(nil)), false, "/api/images", 401},
		{"HS256 wrong secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789"), "", good(nil)), false, "/api/images", 401},
		{"expired", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()})), false, "/api/images", 401},
		{"not yet valid", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"nbf": now.Add(time.Hour).Unix()})), false, "/api/images", 401},
		{"wrong issuer", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"iss": "https://evil.test/"})), false, "/api/images", 401},
		{"no issuer", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"iss": nil})), false, "/api/images", 401},
		{"wrong audience", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"aud": "other"})), false, "/api/images", 401},
		{"audience in a list", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"aud": []string{"x", "imagenes"}})), false, "/api/images", 200},
		{"missing sub", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"sub": nil})), false, "/api/images", 401},
		{"malformed", "eyJhbGciOiJIUzI1NiJ9.garbage", false, "/api/images", 401},
		{"no exp (valid forever) is refused", sign(t, jwt.SigningMethodRS256, key, kid, good(jwt.MapClaims{"exp": nil})), false, "/api/images", 401},
		{"no exp on Balsamoa is 401", sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", good(jwt.MapClaims{"exp": nil, "role": "admin"})), false, "/api/v1/admin/imagenes", 401},
		{"NUL in sub is 401, not an id error", sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", good(jwt.MapClaims{"sub": "ali\x00ce", "role": "admin"})), false, "/api/v1/admin/imagenes", 401},
		{"control byte in sub", sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", good(jwt.MapClaims{"sub": "a\nb"})), false, "/api/images", 401},
		{"wrong admin on Balsamoa is 401 mensaje", "x", false, "/api/v1/admin/imagenes", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := req{method: "GET", path: tt.path}
			if tt.cookie {
				r.header = map[string]string{"Cookie": "token=" + tt.token}
			} else {
				r.token = tt.token
			}
			got := e.do(t, r)
			if got.status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.wantStatus)
			}
			if got.status == 401 && tt.path == "/api/images" && string(got.body) != `{"error":"Unauthorized"}` {
				t.Errorf("got %s, want {\"error\":\"Unauthorized\"}", got.body)
			}
			if got.status >= 400 && tt.path != "/api/images" {
				if _, ok := got.json(t)["mensaje"]; !ok {
					t.Errorf("got %s, want {\"mensaje\"}", got.body)
				}
			}
		})
	}
	t.Run("token in the query string is not accepted", func(t *testing.T) {
		tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", good(nil))
		got := e.do(t, req{method: "GET", path: "/api/images?token=" + tok + "&access_token=" + tok})
		if got.status != 401 {
			t.Errorf("got %d, want 401", got.status)
		}
	})
}

func mintWith(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
