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

// freeAddr is a loopback address nobody listens on, for a process we cannot
// hand a listener (nginx, the built binary): the port is free when chosen and
// may be taken before that process binds it. The in-process serve gets its
// listener instead (serveInBackground).
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

// serveInBackground runs `serve` with env on a listener it already holds
// (a loopback port chosen by the kernel, so no other test can take it
// between choosing and serving), sets env["HTTP_ADDR"] to its address, and
// waits until it is ready. sigterm cancels serve's context, which is what
// SIGTERM does in main; wait returns serve's error, failing the test if
// serve has not ended 30s later.
func serveInBackground(t testing.TB, env map[string]string) (sigterm func(), wait func() error) {
	t.Helper()
	return serveLogging(t, env, io.Discard)
}

// serveLogging is serveInBackground with serve's log written to logw, which
// must be safe for concurrent writes.
func serveLogging(t testing.TB, env map[string]string, logw io.Writer) (sigterm func(), wait func() error) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env["HTTP_ADDR"] = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), listenerKey{}, ln))
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, envOf(env), io.Discard, logw) }()
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
