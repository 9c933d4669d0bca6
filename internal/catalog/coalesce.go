package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/imagenes/imagenes/internal/fault"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/trash"
)

// Single deletes are coalesced: the deletes that arrive while a delete
// transaction is in flight go together into the next one (no timer: a batch
// is whatever queued meanwhile, up to maxBatch), one multi-row statement
// and one commit for all of them. Each caller gets exactly the answer it
// would have had alone (its entry, its 404, its owner scope).
//
// A batch is no member's hostage. It waits for no lock: a member whose row
// (or its url's lock) another transaction holds is left out of the batch
// and deleted alone, waiting under its own deadline, after the batch's
// transaction ends (a long product edit holding one row stalled every
// delete of its batch, issue 23). A batch runs on a context of its own,
// detached from its callers and bounded by the earliest of their deadlines,
// so no caller's deadline is outlived because of the others. A batch that
// fails for any other reason than an unknown commit outcome has put its
// files back, and its members are retried each alone, on its own context,
// so one bad file never fails its neighbours. Each caller returns at its
// own deadline in any case.
const (
	maxBatch = 256
	// lanes is how many batches may be in flight at once: while one waits
	// for its commit, the next one's renames and statement go ahead.
	lanes = 2
	// batchTimeout bounds a batch whose callers have no deadline.
	batchTimeout = 30 * time.Second
)

type deleteCall struct {
	ctx  context.Context
	req  repo.DeleteRequest
	done chan deleteResult
	// abandoned: the caller returned at its deadline before its answer
	// came, so the call is not recycled (the batch may still send on done).
	abandoned bool
}

type deleteResult struct {
	entry repo.Entrada
	err   error
}

// calls recycles deleteCalls with their channels: a call is done once its
// caller has received its one result (the batch sends it last thing it
// does with that call), so the next delete can take it over.
var calls = sync.Pool{New: func() any { return &deleteCall{done: make(chan deleteResult, 1)} }}

// newCall returns an idle call for req (see calls); putCall gives it back.
func newCall(ctx context.Context, req repo.DeleteRequest) *deleteCall {
	c := calls.Get().(*deleteCall)
	c.ctx, c.req = ctx, req
	return c
}

func putCall(c *deleteCall) {
	if c.abandoned {
		return // the batch may still answer on it: left to the collector
	}
	c.ctx, c.req = nil, repo.DeleteRequest{}
	calls.Put(c)
}

// coalescer queues single deletes and runs them in batches.
type coalescer struct {
	mu      sync.Mutex
	queue   []*deleteCall
	running int
	run     func(ctx context.Context, batch []*deleteCall)
}

// do queues c and waits for its result, or for c's context to end: then
// it returns that context's error (a 503 "try again") at once, the call is
// abandoned, and the work on it stops at the same deadline, since its
// batch runs until its earliest member's deadline and a member alone runs
// on its own context. An answer already there wins over the deadline.
func (q *coalescer) do(c *deleteCall) deleteResult {
	q.mu.Lock()
	q.queue = append(q.queue, c)
	start := q.running < lanes
	if start {
		q.running++
	}
	q.mu.Unlock()
	if start {
		go q.drain()
	}
	select {
	case r := <-c.done:
		return r
	case <-c.ctx.Done():
		select {
		case r := <-c.done:
			return r
		default:
		}
		c.abandoned = true
		return deleteResult{err: fmt.Errorf("delete imagen %d: %w", c.req.ID, c.ctx.Err())}
	}
}

// drain runs batches until the queue is empty.
func (q *coalescer) drain() {
	for {
		q.mu.Lock()
		n := min(len(q.queue), maxBatch)
		if n == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		batch := append([]*deleteCall(nil), q.queue[:n]...)
		q.queue = append(q.queue[:0], q.queue[n:]...)
		q.mu.Unlock()
		ctx, cancel := batchContext(batch)
		q.run(ctx, batch)
		cancel()
	}
}

// batchContext is the context a batch runs on: detached from every
// caller (one caller's cancellation must not fail the others), keeping the
// first one's values, and ending at the earliest member's deadline, or
// after batchTimeout when none has one.
func batchContext(batch []*deleteCall) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(batchTimeout)
	for _, c := range batch {
		if d, ok := c.ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), deadline)
}

// deleteBatch runs one batch and answers every member. Members whose
// context has already ended get its error and stay out of it.
func (s *Service) deleteBatch(ctx context.Context, batch []*deleteCall) {
	live := batch[:0:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.done <- deleteResult{err: fmt.Errorf("delete imagen %d: %w", c.req.ID, err)}
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	// A member alone goes the same way: waiting for its row here would
	// hold the lane, and two held rows held both (issue 23).
	res, err := s.deleteTogether(ctx, live)
	switch {
	case err == nil:
		for i, c := range live {
			if res[i].err == errBusy {
				go s.deleteAlone(c) // waits for its row under its own deadline
				continue
			}
			c.done <- res[i]
		}
	case errors.Is(err, repo.ErrCommitUnknown):
		// Retrying could take a committed delete for a missing row: every
		// member gets the error it would have had alone.
		for _, c := range live {
			c.done <- deleteResult{err: err}
		}
	case len(live) == 1:
		// Alone, the member has no neighbour to spare: its answer is the
		// failure, as before it went the batch's way (a retry after a
		// move whose answer was lost would leave that move to the janitor
		// and answer for a second one).
		live[0].done <- deleteResult{err: err}
	default:
		for _, c := range live {
			go s.deleteAlone(c)
		}
	}
}

// deleteAlone deletes c's image in a transaction of its own, on c's own
// context, and answers c.
func (s *Service) deleteAlone(c *deleteCall) {
	e, err := s.deleteOne(c.ctx, c.req)
	c.done <- deleteResult{e, err}
}

// errBusy marks a batch member whose row another transaction held: it is
// deleted alone instead (deleteAlone).
var errBusy = errors.New("row held by another transaction")

// deleteTogether deletes the batch's images in one transaction and returns
// each member's result, in order: an image goes to the first member whose
// scope may see it (as TrashRequested decides), every other member asking
// for it finds nothing, as it would have after the first one alone; a
// member whose row the batch could not lock without waiting gets errBusy.
func (s *Service) deleteTogether(ctx context.Context, batch []*deleteCall) ([]deleteResult, error) {
	rs := make([]repo.DeleteRequest, len(batch))
	for i, c := range batch {
		rs[i] = c.req
	}
	var es []repo.Entrada
	var busy []int32
	err := s.proto.Run(ctx, func(tx *trash.Tx) error {
		var err error
		if es, busy, err = tx.DeleteRequested(ctx, rs, repo.MotivoImagen); err != nil {
			return err
		}
		fault.Point("delete-batch") // a batch's files moved, COMMIT not sent
		return nil
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[int32]repo.Entrada, len(es))
	for _, e := range es {
		if e.ImagenID != nil {
			byID[*e.ImagenID] = e
		}
	}
	held := make(map[int32]bool, len(busy))
	for _, id := range busy {
		held[id] = true
	}
	out := make([]deleteResult, len(batch))
	for i, r := range rs {
		if held[r.ID] {
			out[i] = deleteResult{err: errBusy}
			continue
		}
		e, ok := byID[r.ID]
		if !ok || !r.Scope.Allows(e.OwnerSub) {
			out[i] = deleteResult{err: notFound(r.ID)}
			continue
		}
		out[i] = deleteResult{entry: e}
		delete(byID, r.ID)
	}
	return out, nil
}
