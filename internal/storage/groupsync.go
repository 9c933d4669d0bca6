package storage

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// groupSyncEvery is how long a rename into the trash may wait for its
// folders' fsync.
const groupSyncEvery = 10 * time.Millisecond

// groupSync fsyncs queued folders once per tick, in the background.
// Fsyncing both folders of a rename on the request path halved delete
// throughput; queuing every touched folder cost 10–15% and pushed p99 up
// (with 256 fan-out folders a tick fsynced ~257 of them). Moves into the
// trash queue only the trash folder: on a journaling filesystem (ext4, xfs)
// a rename is one journal transaction covering both folders, so one fsync
// per tick makes every rename of that tick durable, within ~10 ms of its
// commit. Where that does not hold, or in that window, a lost rename is
// still found by the janitor: entry committed, file still live, no row →
// moved into the trash under the entry's name.
//
// Folders are queued by name, not by descriptor: a descriptor the caller
// got from a full folder cache is closed when the move returns, before the
// tick, and fsyncing it would fail (or, with the number reused, sync some
// other file). The tick opens each folder through open (the cache, or a
// descriptor of its own that it closes after the fsync).
type groupSync struct {
	open func(name string) (*os.File, func(), error)

	mu      sync.Mutex
	dirty   map[string]struct{}
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}

	// A failed fsync is not retried in place (after EIO Linux may report a
	// later fsync of the same folder clean without having written it); it
	// is counted, kept for Close and SyncErrors, and the janitor reconciles
	// what it may have lost.
	failures atomic.Uint64
	lastErr  atomic.Pointer[error]
	onError  atomic.Pointer[func(error)]
}

// mark queues folders for the next group fsync, starting the loop on first
// use (most Storages in tests never move a file). After close it syncs in
// line: the rename has already happened and must not go unsynced.
func (g *groupSync) mark(names ...string) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		g.record(g.syncAll(names))
		return
	}
	if !g.started {
		g.started = true
		g.dirty = map[string]struct{}{}
		g.stop, g.done = make(chan struct{}), make(chan struct{})
		go g.loop()
	}
	for _, n := range names {
		g.dirty[n] = struct{}{}
	}
	g.mu.Unlock()
}

func (g *groupSync) loop() {
	defer close(g.done)
	t := time.NewTicker(groupSyncEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			g.record(g.flush())
		case <-g.stop:
			g.record(g.flush())
			return
		}
	}
}

// flush fsyncs every queued folder and returns what failed.
func (g *groupSync) flush() error {
	g.mu.Lock()
	names := make([]string, 0, len(g.dirty))
	for n := range g.dirty {
		names = append(names, n)
	}
	clear(g.dirty)
	g.mu.Unlock()
	return g.syncAll(names)
}

func (g *groupSync) syncAll(names []string) error {
	var errs []error
	for _, n := range names {
		errs = append(errs, g.syncOne(n))
	}
	return errors.Join(errs...)
}

func (g *groupSync) syncOne(name string) error {
	d, release, err := g.open(name)
	if err != nil {
		return fmt.Errorf("group fsync of %s: %w", name, err)
	}
	defer release()
	// EINVAL: a filesystem that cannot sync folders; the rename is as
	// durable as it will get.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("group fsync of %s: %w", name, err)
	}
	return nil
}

func (g *groupSync) record(err error) {
	if err == nil {
		return
	}
	g.lastErr.Store(&err)
	g.failures.Add(1)
	if fn := g.onError.Load(); fn != nil {
		(*fn)(err)
	}
}

// errors reports how many group fsyncs failed and the last failure.
func (g *groupSync) errors() (uint64, error) {
	if p := g.lastErr.Load(); p != nil {
		return g.failures.Load(), *p
	}
	return 0, nil
}

// close flushes what is queued, stops the loop and reports the fsync
// failures since the start (their count and the last one); call before
// closing the folders. Safe to call more than once.
func (g *groupSync) close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	started := g.started
	g.mu.Unlock()
	if started {
		close(g.stop)
		<-g.done
	}
	if n, err := g.errors(); n > 0 {
		return fmt.Errorf("%d group fsync(s) of the trash folder failed, the last: %w", n, err)
	}
	return nil
}
