package main

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/dbtest"
)

// What the Dockerfile relies on, checked without a container engine: the
// binary built with the image's flags is static, and starts from an empty
// working directory as the image's non-root user (uid 65532), serving and
// answering its own healthcheck.
func TestContainerBinary(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.New(t)
	dir, err := os.MkdirTemp("", "imagenes-container-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "imagenes")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=container-test", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has a dynamic loader; the distroless static image cannot run it")
		}
	}
	f.Close()

	work := filepath.Join(dir, "empty") // the working directory: nothing in it
	data := filepath.Join(dir, "data")  // the volume
	for _, d := range []string{work, data} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const uid = 65532
	asUser := func(cmd *exec.Cmd) {
		cmd.Dir = work
		if os.Geteuid() == 0 { // CI and containers run as root: drop to the image's user
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(data, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	env := []string{"DATABASE_URL=" + dbURL, "STORAGE_DIR=" + data, "HTTP_ADDR=" + addr,
		"JWT_SECRET=container-test-secret-0123", "LOG_LEVEL=warn"}

	var logs bytes.Buffer
	serve := exec.Command(bin, "serve")
	serve.Env, serve.Stderr = env, &logs
	asUser(serve)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer serve.Process.Kill() //nolint:errcheck // already stopped when the test passes

	var lastErr error
	for i := 0; i < 100; i++ {
		hc := exec.Command(bin, "healthcheck", "--path", "/readyz")
		hc.Env = env
		asUser(hc)
		out, err := hc.CombinedOutput()
		if lastErr = err; err == nil && strings.TrimSpace(string(out)) == "ok" {
			break
		}
		lastErr = fmt.Errorf("%v: %s", err, out)
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("healthcheck never passed: %v\nserver log:\n%s", lastErr, logs.String())
	}
	if _, err := os.Stat(filepath.Join(data, ".imagenes-storage")); err != nil {
		t.Errorf("serve did not write the storage marker into the volume: %v", err)
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("serve wrote %d entries into its working directory, want none", len(ents))
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-ctx.Done():
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
}
