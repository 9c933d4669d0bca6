package crashtest

import (
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"syscall"
	"time"
)

// answerFaultCrash is a crash point on the bucket where nothing in serve
// fails: the proxy lets one of serve's requests that change the bucket (a
// delete's, a restore's, a product write's or an upload's DELETE, copy or
// PUT, picked at random among the load's) through to MinIO, which carries
// it out, and then either drops the answer (a reset connection) or, in one
// cycle of four, holds the request past serve's REQUEST_TIMEOUT and sends it
// late. Then serve is killed at a random moment, or lives on under the load
// and stops cleanly (SIGTERM), having answered and compensated by itself;
// the harness goes on as after every crash. k picks the variant. Serve's
// 503s are truthful answers here (the outcome is unknown to it), so the
// load accepts them while the fault is armed.
func (h *harness) answerFaultCrash(k int) string {
	h.t.Helper()
	fault, name, late := loseAnswer, "lost answer", time.Duration(0)
	var extra []string
	if k%4 == 2 {
		// Held past the request's time limit, and past the store's
		// own (the earlier bounds each request): serve has given up
		// when MinIO gets it.
		fault, name, late = hangLate, "late answer", 2500*time.Millisecond
		extra = []string{"REQUEST_TIMEOUT=1s"}
	}
	kill := k%4 == 0 || (k%4 == 2 && mrand.IntN(2) == 0)
	h.unavailable.Store(true)
	defer h.unavailable.Store(false)
	// The kind first, so that the rarer copies and deletes get as many
	// points as the uploads' PUTs.
	target := []string{"DELETE", "copy", "PUT"}[mrand.IntN(3)]
	caught, done := h.proxy.armFault(fault, target, mrand.IntN(4), late)
	if fault == hangLate && kill {
		// Killed while MinIO has not yet seen the request, or soon
		// after it landed: drainProxy sends it on regardless.
		done = afterRandom(caught, late+300*time.Millisecond)
	}
	h.start("", extra...)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.load(stop)
		}()
	}
	after := "serve lived (SIGTERM)"
	select {
	case <-done:
		if kill {
			after = "SIGKILL"
			if fault == loseAnswer {
				time.Sleep(time.Duration(mrand.IntN(300)) * time.Millisecond)
			}
			_ = h.server.Process.Signal(syscall.SIGKILL)
			<-h.exitErr
		} else {
			time.Sleep(time.Duration(300+mrand.IntN(500)) * time.Millisecond)
			_ = h.server.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-h.exitErr:
				if err != nil {
					h.t.Fatalf("serve after SIGTERM, after a %s: %v\n%s", name, err, h.stderr)
				}
			case <-time.After(time.Minute):
				h.t.Fatalf("serve did not stop within a minute of SIGTERM, after a %s\n%s", name, h.stderr)
			}
		}
	case <-h.exitErr:
		after = "serve died by itself: " + faultName(h.stderr.String())
	case <-time.After(time.Minute):
		// The load never made the request to fault: the machine is
		// slow, not wrong; the point is a plain kill then.
		after = "SIGKILL (no request faulted within a minute)"
		_ = h.server.Process.Signal(syscall.SIGKILL)
		<-h.exitErr
	}
	close(stop)
	wg.Wait()
	h.server = nil
	what, landed := h.proxy.disarm()
	h.settle()
	switch {
	case what == "":
		return after
	case fault == hangLate && !landed:
		return fmt.Sprintf("%s of a %s, SIGKILL while held (sent after the kill)", name, what)
	}
	return fmt.Sprintf("%s of a %s, %s", name, what, after)
}

// afterRandom is closed a random time under limit after ch is.
func afterRandom(ch <-chan struct{}, limit time.Duration) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		<-ch
		time.Sleep(time.Duration(mrand.Int64N(int64(limit))))
		close(out)
	}()
	return out
}
