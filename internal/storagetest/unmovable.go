package storagetest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Unmovable makes the file at path impossible to rename: immutable as root
// (which no folder permission stops), its folder read-only otherwise. The
// file stays readable. It fails t when neither holds. release makes it
// movable again (it runs at t's end anyway).
func Unmovable(t testing.TB, path string) (release func()) {
	t.Helper()
	const immutable = 0x10 // FS_IMMUTABLE_FL, linux/fs.h
	if os.Geteuid() == 0 {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, immutable); err != nil {
			f.Close()
			t.Fatalf("make %s immutable: %v", path, err)
		}
		var once sync.Once
		release = func() {
			once.Do(func() {
				_ = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, 0)
				f.Close()
			})
		}
		t.Cleanup(release) // before t.TempDir's removal, which the flag would stop
	} else {
		dir := filepath.Dir(path)
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		release = func() { _ = os.Chmod(dir, 0o755) }
		t.Cleanup(release)
	}
	if err := os.Rename(path, path+".probe"); err == nil {
		t.Fatalf("%s can still be renamed: this filesystem keeps no immutable flag", path)
	}
	return release
}
