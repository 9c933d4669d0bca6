// Package faultstore is a storage driver that wraps any other
// (storage.Backend) and makes chosen calls fail the ways a network store
// fails: before the effect, after it (the answer lost), or by hanging until
// the caller's context ends — and then, if asked, carrying the effect out
// late, after the caller was told it failed. It records every call, so a
// test can first run an operation cleanly to learn the calls it makes, then
// fail each in turn (the fault matrix of issue 21). Test-only by intent,
// though nothing in it depends on testing.
package faultstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/imagenes/imagenes/internal/storage"
)

// Mode is what a fault does to the call it hits.
type Mode int

const (
	// FailBefore fails the call without making it: an error, no effect.
	FailBefore Mode = iota + 1
	// LoseAnswer makes the call, so its effect is done, then returns an
	// error instead of its answer: the outcome the caller cannot tell
	// from FailBefore (a reset connection, a proxy's timeout).
	LoseAnswer
	// Hang blocks until the caller's context ends (or the store's own
	// Limit passes, as a driver's own time limit would) and returns that
	// error, without making the call — unless the fault's LandLate says
	// the store carries it out later.
	Hang
)

func (m Mode) String() string {
	switch m {
	case FailBefore:
		return "fail-before"
	case LoseAnswer:
		return "lose-answer"
	case Hang:
		return "hang"
	}
	return "none"
}

// Fault chooses a call and what happens to it.
type Fault struct {
	// Method is the Backend method's name ("MoveToTrash"); "" is any.
	Method string
	// Key, when not nil, must accept the call's key: its url or trash
	// name (the first one a method takes), a thumbnail key, or a batch's
	// names joined by spaces; "" for calls that name nothing.
	Key func(key string) bool
	// Nth is which of the matching calls it hits, from 1; 0 hits every one.
	Nth  int
	Mode Mode
	// LandLate, with Hang: once the call has returned its error, the
	// store still carries it out — when the test calls Store.Land, so the
	// moment is the test's to choose.
	LandLate bool
}

// ErrInjected marks an error this store made up; it wraps
// storage.ErrUnavailable, as a store that cannot answer does.
var ErrInjected = fmt.Errorf("injected fault: %w", storage.ErrUnavailable)

// Call is one call as the store saw it.
type Call struct {
	Method string
	Key    string
	Mode   Mode  // the fault that hit it; 0 for none
	Err    error // what the caller got
}

// DefaultLimit is Options.Limit when unset.
const DefaultLimit = 10 * time.Second

// Store is a storage.Backend whose calls go to the wrapped one, but for
// those a Fault hits. Safe for concurrent use.
type Store struct {
	storage.Backend
	limit time.Duration

	mu     sync.Mutex
	faults []*armed
	calls  []Call
	late   []func() error
}

type armed struct {
	Fault
	matched int
	spent   bool
}

// Options tune a Store.
type Options struct {
	// Limit bounds a hang whose context never ends (an undo running on
	// context.WithoutCancel), as a driver's own time limit does.
	Limit time.Duration
}

// New wraps b.
func New(b storage.Backend, o Options) *Store {
	if o.Limit <= 0 {
		o.Limit = DefaultLimit
	}
	return &Store{Backend: b, limit: o.Limit}
}

// Inject arms f. Faults are tried in the order they were injected; the
// first that hits a call decides it.
func (s *Store) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &armed{Fault: f})
}

// Clear disarms every fault and forgets the calls.
func (s *Store) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.calls = nil, nil
}

// Calls returns the calls made so far, in the order they were made.
func (s *Store) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Hit returns the calls a fault hit.
func (s *Store) Hit() []Call {
	var hit []Call
	for _, c := range s.Calls() {
		if c.Mode != 0 {
			hit = append(hit, c)
		}
	}
	return hit
}

// Land carries out the calls that hung with LandLate, in the order they
// hung, and returns their errors joined. Each runs on a context of its
// own bounded by the store's Limit.
func (s *Store) Land() error {
	s.mu.Lock()
	late := s.late
	s.late = nil
	s.mu.Unlock()
	var errs []error
	for _, f := range late {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// pick returns the fault that hits a call of method with key, or nil.
func (s *Store) pick(method, key string) *armed {
	for _, f := range s.faults {
		if f.spent || (f.Method != "" && f.Method != method) || (f.Key != nil && !f.Key(key)) {
			continue
		}
		f.matched++
		if f.Nth == 0 {
			return f
		}
		if f.matched == f.Nth {
			f.spent = true
			return f
		}
	}
	return nil
}

// do runs call, the wrapped store's method, unless a fault hits it.
// faulted says the caller must return its zero answer with err.
func (s *Store) do(ctx context.Context, method, key string, call func(context.Context) error) (faulted bool, err error) {
	s.mu.Lock()
	f := s.pick(method, key)
	s.mu.Unlock()
	var mode Mode
	if f != nil {
		mode = f.Mode
	}
	switch mode {
	case 0:
		err = call(ctx)
	case FailBefore:
		err = fmt.Errorf("%s %q not made: %w", method, key, ErrInjected)
	case LoseAnswer:
		if err = call(ctx); err == nil {
			err = fmt.Errorf("%s %q made, its answer lost: %w", method, key, ErrInjected)
		}
	case Hang:
		t := time.NewTimer(s.limit)
		select {
		case <-ctx.Done():
			err = fmt.Errorf("%s %q held: %w: %w", method, key, storage.ErrUnavailable, ctx.Err())
		case <-t.C:
			err = fmt.Errorf("%s %q held past %s: %w", method, key, s.limit, ErrInjected)
		}
		t.Stop()
		if f.LandLate && !reads[method] {
			s.mu.Lock()
			s.late = append(s.late, func() error {
				lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.limit)
				defer cancel()
				return call(lctx)
			})
			s.mu.Unlock()
		}
	default:
		err = fmt.Errorf("faultstore: unknown mode %d", mode)
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Key: key, Mode: mode, Err: err})
	s.mu.Unlock()
	return mode != 0, err
}

// reads are the methods without an effect to land late (an open's file
// would have no one to close it).
var reads = map[string]bool{
	"LiveExists": true, "LiveInfo": true, "TrashExists": true, "OpenLive": true, "OpenTrash": true,
	"OpenThumb": true, "WalkLive": true, "WalkTrash": true, "WalkThumbs": true, "MarkerExists": true,
	"Usable": true, "SameObject": true, "Presign": true,
}

var _ storage.Backend = (*Store)(nil)
