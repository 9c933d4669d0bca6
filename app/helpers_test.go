package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// freeAddr is a loopback address nobody listens on (for serve's HTTP_ADDR).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady polls /readyz on addr until it answers want (15s at most).
func waitReady(t testing.TB, addr string, want int) {
	t.Helper()
	for i := 0; i < 300; i++ {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/readyz on %s never answered %d", addr, want)
}

// serveInBackground runs `serve` with env and waits until it is ready.
// sigterm cancels its context, which is what SIGTERM does in main; wait
// returns serve's error, failing the test if serve has not ended 30s later.
func serveInBackground(t testing.TB, env map[string]string) (sigterm func(), wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, envOf(env), io.Discard, io.Discard) }()
	waitReady(t, env["HTTP_ADDR"], 200)
	return cancel, func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30s of its context ending")
			return nil
		}
	}
}
