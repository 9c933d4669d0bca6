package objstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// spoolPrefix names every process's upload spool folder in the temporary
// folder: imagenes-spool-<pid>-<random>. The pid is for a person reading
// the folder; whether its process lives is told by its lock.
const spoolPrefix = "imagenes-spool-"

// spoolGrace is how old a spool folder that holds no lock by design must
// be before another process removes it: one half made (a crash between its
// creation and its lock, or another process in that instant), or one made
// by a version that took no lock (a replica still running it during a
// rolling update may be using it).
const spoolGrace = 24 * time.Hour

// openSpool makes this process's spool folder under tmp and holds an
// exclusive flock on it for the process's life (the kernel releases it when
// the process dies, however it dies). The folder is made under a hidden
// name, locked, then renamed into place, so another process's sweep never
// finds it unlocked under its real name. Replicas sharing a temporary folder
// (one volume, several containers: pids of other namespaces mean nothing
// here) see each other's locks, which is what the sweep asks.
func openSpool(tmp string) (dir string, lock *os.File, err error) {
	made, err := os.MkdirTemp(tmp, "."+spoolPrefix)
	if err != nil {
		return "", nil, err
	}
	lock, err = os.Open(made)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err == nil {
		dir = filepath.Join(tmp, fmt.Sprintf("%s%d-%s", spoolPrefix, os.Getpid(), strings.TrimPrefix(filepath.Base(made), "."+spoolPrefix)))
		err = os.Rename(made, dir)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(made) //nolint:errcheck // ours, never used
		return "", nil, err
	}
	return dir, lock, nil
}

// sweepSpools removes, under tmp, the spool folders of processes that died
// (a crash leaves its uploads being judged, never cleaned by Close) and
// returns their names. A folder is removed only while this process holds
// its lock: one whose process lives is locked and left alone, and two
// processes sweeping at once never both remove. Folders that hold no lock by
// design (see spoolGrace) are removed only once older than it. Best effort:
// a folder it cannot look at is left for the next start.
func sweepSpools(tmp string, now time.Time) []string {
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		name := e.Name()
		half := strings.HasPrefix(name, "."+spoolPrefix)
		if !e.IsDir() || (!half && !strings.HasPrefix(name, spoolPrefix)) {
			continue
		}
		if sweepSpool(filepath.Join(tmp, name), half || !lockedByDesign(name), now) {
			removed = append(removed, name)
		}
	}
	return removed
}

// lockedByDesign reports whether a spool folder's name is of the versions
// that lock it (<pid>-<random>; before, <random> alone).
func lockedByDesign(name string) bool {
	return strings.Contains(strings.TrimPrefix(name, spoolPrefix), "-")
}

func sweepSpool(p string, aged bool, now time.Time) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false // its process lives (or another sweep has it)
	}
	if aged {
		fi, err := f.Stat()
		if err != nil || now.Sub(fi.ModTime()) < spoolGrace {
			return false
		}
	}
	return os.RemoveAll(p) == nil
}
