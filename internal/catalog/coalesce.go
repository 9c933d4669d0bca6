package catalog

import (
	"context"
	"errors"
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
// would have had alone (its entry, its 404, its owner scope). A batch that
// fails for any other reason than an unknown commit outcome has put its
// files back, and its members are retried one by one, so one bad file
// never fails its neighbours.
const (
	maxBatch = 256
	// lanes is how many batches may be in flight at once: while one waits
	// for its commit, the next one's renames and statement go ahead.
	lanes = 2
	// batchTimeout bounds a batch's database work, whichever callers wait.
	batchTimeout = 30 * time.Second
)

type deleteCall struct {
	ctx  context.Context
	req  repo.DeleteRequest
	done chan deleteResult
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

// do queues c and waits for its result. It does not give up when the
// caller's context ends: the batch may already hold c's rows and files,
// and its answer must be the transaction's (batchTimeout bounds the wait).
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
	return <-c.done
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
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), batchTimeout)
		q.run(ctx, batch)
		cancel()
	}
}

// deleteBatch runs one batch and answers every member.
func (s *Service) deleteBatch(ctx context.Context, batch []*deleteCall) {
	if len(batch) == 1 {
		c := batch[0]
		e, err := s.deleteOne(ctx, c.req)
		c.done <- deleteResult{e, err}
		return
	}
	res, err := s.deleteTogether(ctx, batch)
	switch {
	case err == nil:
		for i, c := range batch {
			c.done <- res[i]
		}
	case errors.Is(err, repo.ErrCommitUnknown):
		// Retrying could take a committed delete for a missing row: every
		// member gets the error it would have had alone.
		for _, c := range batch {
			c.done <- deleteResult{err: err}
		}
	default:
		for _, c := range batch {
			e, err := s.deleteOne(ctx, c.req)
			c.done <- deleteResult{e, err}
		}
	}
}

// deleteTogether deletes the batch's images in one transaction and returns
// each member's result, in order: an image goes to the first member whose
// scope may see it (as TrashRequested decides), every other member asking
// for it finds nothing, as it would have after the first one alone.
func (s *Service) deleteTogether(ctx context.Context, batch []*deleteCall) ([]deleteResult, error) {
	rs := make([]repo.DeleteRequest, len(batch))
	for i, c := range batch {
		rs[i] = c.req
	}
	var es []repo.Entrada
	err := s.proto.Run(ctx, func(tx *trash.Tx) error {
		var err error
		if es, err = tx.DeleteRequested(ctx, rs, repo.MotivoImagen); err != nil {
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
	out := make([]deleteResult, len(batch))
	for i, r := range rs {
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
