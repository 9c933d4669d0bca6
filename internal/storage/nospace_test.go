package storage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// fullWriter is a disk with left bytes free.
type fullWriter struct {
	w    io.Writer
	left int
}

func (f *fullWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.w.Write(p[:f.left])
		f.left = 0
		return n, &os.PathError{Op: "write", Path: "staged", Err: syscall.ENOSPC}
	}
	f.left -= len(p)
	return f.w.Write(p)
}

// An upload onto a full disk fails with ErrNoSpace and leaves no partial
// file in staging or in the live folders. A real 256 KiB tmpfs when the
// machine lets us mount one (root), a writer that runs out otherwise.
// Not parallel: the fallback sets a package hook.
func TestStageOnFullDisk(t *testing.T) {
	root := t.TempDir()
	how := "a 256 KiB tmpfs"
	if err := syscall.Mount("tmpfs", root, "tmpfs", 0, "size=256k"); err != nil {
		how = "a writer that runs out after 128 KiB (" + err.Error() + ")"
		stageWriteHook = func(w io.Writer) io.Writer { return &fullWriter{w: w, left: 128 << 10} }
		t.Cleanup(func() { stageWriteHook = nil })
	} else {
		t.Cleanup(func() { syscall.Unmount(root, 0) }) //nolint:errcheck // best effort
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	big := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 512<<10)...)
	_, err = s.Stage(t.Context(), bytes.NewReader(big), 5<<20, []string{"image/png"})
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("on %s: got %v, want ErrNoSpace", how, err)
	}
	for _, dir := range []string{stagingDir, liveDir} {
		var files []string
		filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error { //nolint:errcheck // listing
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if len(files) != 0 {
			t.Errorf("on %s: %s holds %v after the failed upload, want nothing", how, dir, files)
		}
	}
	t.Logf("full disk simulated with %s", how)
}
