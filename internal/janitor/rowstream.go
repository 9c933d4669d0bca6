package janitor

import (
	"context"
	"sync"

	"github.com/imagenes/imagenes/internal/repo"
)

// rowChunk is how many rows the stream hands over at once, and rowsAhead
// how many chunks it may read ahead of the walk: PostgreSQL sorts and sends
// while the janitor walks, on the other core.
const (
	rowChunk  = 1024
	rowsAhead = 4
)

// rowStream is the table's local rows in byte order of url
// (repo.PassLock.LocalesByURL, on the pass lock's connection), read by a
// goroutine a few chunks ahead of the walk that merges them.
type rowStream struct {
	ch     chan []repo.LocalImagen
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error // the query's, set before ch is closed

	buf []repo.LocalImagen
	i   int
	end bool
}

func streamRows(ctx context.Context, lock *repo.PassLock) *rowStream {
	ctx, cancel := context.WithCancel(ctx)
	s := &rowStream{ch: make(chan []repo.LocalImagen, rowsAhead), cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.ch)
		s.err = lock.LocalesByURL(ctx, rowChunk, func(rows []repo.LocalImagen) error {
			select {
			case s.ch <- rows:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return s
}

// peek returns the next row without taking it; ok is false at the end of
// the table. A stream that ended on an error returns that error, never a
// short table: a row missing from the merge would make its file look like
// an orphan.
func (s *rowStream) peek() (r repo.LocalImagen, ok bool, err error) {
	for s.i >= len(s.buf) {
		if s.end {
			return r, false, s.err
		}
		rows, open := <-s.ch
		if !open {
			s.end = true // s.err was set before the close
			return r, false, s.err
		}
		s.buf, s.i = rows, 0
	}
	return s.buf[s.i], true, nil
}

// take drops the row peek returned.
func (s *rowStream) take() { s.i++ }

// close stops the query (when the merge ended early: the pass stops, its
// lock's connection may go with the query) and waits for it.
func (s *rowStream) close() {
	s.cancel()
	for range s.ch { // unblock a send in flight
	}
	s.wg.Wait()
}
