package thumbs

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// defaultGenerationLimit bounds one shared generation (Options
// .GenerationLimit 0): well past a decode of the largest image allowed on a
// loaded machine, so only a stuck storage reaches it.
const defaultGenerationLimit = time.Minute

// flights runs one generation per key for all its concurrent callers (the
// shape of tailscale's singleflight.DoChanContext). The generation runs on a
// context of its own — the first caller's values, none of its cancellation —
// bounded by limit and cancelled once every caller has left; each caller
// waits under its own context and returns at its own deadline. Handing the
// first caller's context to the generation made one short deadline a 503
// for everyone waiting on it.
type flights struct {
	limit time.Duration
	mu    sync.Mutex
	calls map[string]*flight
}

type flight struct {
	done    chan struct{}
	val     generated
	err     error
	waiters int  // callers still waiting; under flights.mu
	left    bool // every caller left and the context is cancelled; under flights.mu
	cancel  context.CancelFunc
}

// generated is a generation's result: the thumbnail's bytes (nil when it
// was found in the cache), and whether they were written to the cache.
type generated struct {
	data    []byte
	written bool
}

// do runs fn for key once for all callers that come while it runs, and
// returns its result, or ErrBusy with ctx's error when ctx ends first.
func (g *flights) do(ctx context.Context, key string, fn func(context.Context) (generated, error)) (generated, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*flight)
	}
	f := g.calls[key]
	if f == nil || f.left { // a flight everyone left is cancelled: start anew
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.limit)
		f = &flight{done: make(chan struct{}), cancel: cancel}
		g.calls[key] = f
		go g.run(gctx, key, f, fn)
	}
	f.waiters++
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		g.mu.Lock()
		if f.waiters--; f.waiters == 0 {
			f.left = true
			f.cancel()
		}
		g.mu.Unlock()
		return generated{}, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

func (g *flights) run(ctx context.Context, key string, f *flight, fn func(context.Context) (generated, error)) {
	defer func() {
		if p := recover(); p != nil { // a decoder's panic is this image's failure, not the process's
			f.err = fmt.Errorf("%w: decoder panicked: %v", ErrNotImage, p)
		}
		g.mu.Lock()
		if g.calls[key] == f {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		f.cancel()
		close(f.done)
	}()
	f.val, f.err = fn(ctx)
}

// waiting is how many callers wait on key's flight (tests).
func (g *flights) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.calls[key]; f != nil {
		return f.waiters
	}
	return 0
}
