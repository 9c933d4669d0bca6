package auth

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestJWKSRefreshFailureLogged: a JWKS that stops answering left tokens
// failing with no trace; the refresh error is now logged, the url's
// password redacted.
func TestJWKSRefreshFailureLogged(t *testing.T) {
	key := fuzzKey(t)
	n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": n, "e": e}}})
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if broken.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	core, logs := observer.New(zap.DebugLevel)
	url := strings.Replace(srv.URL, "http://", "http://u:hunter2@", 1)
	a, err := New(Config{JWKSURL: url, Log: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	broken.Store(true)
	// An unknown kid makes keyfunc refresh at once.
	if _, err := a.keyFunc(&jwt.Token{Method: jwt.SigningMethodRS256, Header: map[string]any{"alg": "RS256", "kid": "unknown"}}); err == nil {
		t.Fatal("got a key for an unknown kid")
	}
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("jwks refresh failed").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no log line for the failed JWKS refresh within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, l := range logs.All() {
		if u, _ := l.ContextMap()["url"].(string); strings.Contains(u, "hunter2") {
			t.Errorf("logged url %q holds the password", u)
		}
	}
}
