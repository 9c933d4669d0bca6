package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A server started by the project's scripts inherits none of its caller's
// descriptors. Under `flock /tmp/imagenes-measure.lock make bench` the
// caller holds the shared measurement lock on an inherited descriptor; a
// PostgreSQL or MinIO started from there kept it, so the lock stayed taken
// for the server's whole life and every other measurement on the machine
// waited for it (seen: a bench cluster holding it for an hour).
func TestScriptServersHoldNoInheritedLock(t *testing.T) {
	cases := []struct {
		name         string
		start, clean []string
	}{
		{"localpg", []string{"../scripts/localpg.sh", "start", "inherit", "--fast"}, []string{"../scripts/localpg.sh", "destroy", "inherit"}},
		{"minio", []string{"../scripts/minio.sh", "start", "inherit"}, []string{"../scripts/minio.sh", "destroy", "inherit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lockPath := filepath.Join(t.TempDir(), "measure.lock")
			lock, err := os.Create(lockPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
				t.Fatal(err)
			}
			// As flock(1) runs its command: the locked descriptor open in it.
			cmd := exec.Command(tc.start[0], tc.start[1:]...)
			cmd.ExtraFiles = []*os.File{lock}
			t.Cleanup(func() { exec.Command(tc.clean[0], tc.clean[1:]...).Run() }) //nolint:errcheck // best effort
			if out, err := cmd.Output(); err != nil {
				t.Fatalf("%v: %v (%s)", tc.start, err, out)
			}
			lock.Close() // the caller is done; only the server could hold it now

			again, err := os.Open(lockPath)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			if err := syscall.Flock(int(again.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Errorf("the lock is still held after %v returned: %v (the server inherited its descriptor)", tc.start, err)
			}
		})
	}
}

// A port taken between minio.sh's free-port check and MinIO's bind is
// retried on another port. It was not: the script looked for the kernel's
// "address already in use" while MinIO says "Specified port is already in
// use", so make test failed at start-up when another process (another
// clone's test run) got the port first.
func TestMinioRetriesATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	cmd := exec.Command("../scripts/minio.sh", "start", "takenport")
	cmd.Env = append(os.Environ(), "MINIO_TRY_PORT="+taken)
	t.Cleanup(func() { exec.Command("../scripts/minio.sh", "destroy", "takenport").Run() }) //nolint:errcheck // best effort
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("minio.sh start with port %s taken: %v (%s)", taken, err, out)
	}
	url := strings.TrimSpace(string(out))
	if strings.HasSuffix(url, ":"+taken) || !strings.Contains(url, "@127.0.0.1:") {
		t.Errorf("minio.sh start answered %q, want a url on another port than the taken %s", url, taken)
	}
}
