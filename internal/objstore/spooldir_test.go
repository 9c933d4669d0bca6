package objstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// spoolHelperEnv makes the test binary a process that opens a spool in the
// named folder, leaves an upload in it, prints the spool's name and waits
// until killed (TestSweepSpools).
const spoolHelperEnv = "IMAGENES_SPOOL_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(spoolHelperEnv); dir != "" {
		spool, _, err := openSpool(dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(spool, "1.part"), []byte("an upload being judged"), 0o600); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(filepath.Base(spool))
		select {} // until killed
	}
	os.Exit(m.Run())
}

// spoolProcess starts a process holding a spool under dir and returns the
// spool's name and what kills it (SIGKILL: nothing of it runs after).
func spoolProcess(t *testing.T, dir string) (name string, kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), spoolHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill = func() {
		cmd.Process.Kill() //nolint:errcheck // may be dead already
		cmd.Wait()         //nolint:errcheck // killed
	}
	t.Cleanup(kill)
	line, err := bufio.NewReader(out).ReadString('\n') // the pipe ends if it dies: no wait without end
	name = strings.TrimSpace(line)
	if err != nil || !strings.HasPrefix(name, spoolPrefix) {
		t.Fatalf("spool process said %q, %v", line, err)
	}
	return name, kill
}

// TestSweepSpools: the spool of a process that died (SIGKILL: its Close
// never ran) is removed at the next start, with the uploads in it; the spool
// of a process that runs is left alone, whatever its age, though its pid
// means nothing to another container sharing the temporary folder; folders
// that hold no lock by design (a version before the lock, one half made) go
// only once a day old. Before, every crash left its spool for good.
func TestSweepSpools(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dead, kill := spoolProcess(t, dir)
	live, _ := spoolProcess(t, dir)
	kill()
	old := time.Now().Add(-25 * time.Hour)
	for _, d := range []struct {
		name string
		at   time.Time
	}{
		{"imagenes-spool-1234567", time.Now()}, // a running old version's
		{"imagenes-spool-7654321", old},        // an old version's, a day untouched
		{".imagenes-spool-111", time.Now()},    // being made
		{".imagenes-spool-222", old},           // a crash while made
		{"other-folder", old},
	} {
		p := filepath.Join(dir, d.name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, d.at, d.at); err != nil {
			t.Fatal(err)
		}
	}
	// Both live and dead are older than a day: the lock decides.
	for _, n := range []string{dead, live} {
		if err := os.Chtimes(filepath.Join(dir, n), old, old); err != nil {
			t.Fatal(err)
		}
	}

	removed := sweepSpools(dir, time.Now())
	sort.Strings(removed)
	// Sorted too: dead's name holds a pid, which sorts before or after
	// "imagenes-spool-7654321" by its first digit (a fixed order failed
	// whenever the helper's pid began with 8 or 9).
	wantRemoved := []string{".imagenes-spool-222", dead, "imagenes-spool-7654321"}
	sort.Strings(wantRemoved)
	if diff := cmp.Diff(wantRemoved, removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	var left []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		left = append(left, e.Name())
	}
	want := []string{".imagenes-spool-111", "imagenes-spool-1234567", live, "other-folder"}
	sort.Strings(want)
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, live, "1.part")); err != nil {
		t.Errorf("the live process's upload: %v", err)
	}
}
