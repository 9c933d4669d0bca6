package thumbs

import (
	"io/fs"
	"sync"
)

// defaultFailures is how many files that failed to decode are remembered
// (Options.Failures 0): a few hundred bytes each.
const defaultFailures = 1024

// identity names one version of a file: its name (a live url, or
// "trash/"+its trash name), size and modification time. A file replaced by
// another under the same name (by hand, or an object PUT again) is another
// identity, and is tried again.
type identity struct {
	name  string
	size  int64
	mtime int64
}

func identityOf(name string, info fs.FileInfo) identity {
	return identity{name: name, size: info.Size(), mtime: info.ModTime().UnixNano()}
}

// failures is a bounded negative cache: the files that failed to decode and
// why. A broken file is decoded once, not on every request — a truncated
// 392 MB PNG cost its full allocation and most of its inflation each time.
// When full, the oldest entry gives way (FIFO: a file failing again is
// simply remembered again).
type failures struct {
	mu    sync.Mutex
	errs  map[identity]error
	order []identity // ring of the keys, oldest at next
	next  int
}

func newFailures(n int) *failures {
	if n <= 0 {
		n = defaultFailures
	}
	return &failures{errs: make(map[identity]error, n), order: make([]identity, 0, n)}
}

// get returns the failure remembered for id, or nil.
func (f *failures) get(id identity) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errs[id]
}

// put remembers err as id's failure.
func (f *failures) put(id identity, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.errs[id]; ok {
		f.errs[id] = err
		return
	}
	if len(f.order) < cap(f.order) {
		f.order = append(f.order, id)
	} else {
		delete(f.errs, f.order[f.next])
		f.order[f.next] = id
		f.next = (f.next + 1) % len(f.order)
	}
	f.errs[id] = err
}
