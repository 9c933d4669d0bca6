package handlers_test

import (
	"fmt"
	"sync"
	"testing"
)

// Single deletes that arrive together share transactions; each caller must
// still get exactly its own answer, with its own owner scope: someone
// else's image is a 404 even when its owner's delete is in the same batch.
func TestCoalescedDeletesKeepEachCallersAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const rounds = 6
	for round := range rounds {
		a := e.uploadCat(e.alice, pngBytes)
		b := e.uploadCat(e.bob, pngBytes)
		adminImg, _ := e.upload(pngBytes)
		calls := []struct {
			token string
			path  string
			want  int
		}{
			{e.alice, fmt.Sprintf("/api/image/%d", b), 404}, // bob's
			{e.bob, fmt.Sprintf("/api/image/%d", a), 404},   // alice's
			{e.alice, "/api/image/999999", 404},
			{e.bob, "/api/image/abc", 400},
			{e.alice, fmt.Sprintf("/api/image/%d", adminImg), 404}, // the admin's
		}
		// Every delete above is refused whatever the order; the owners'
		// own deletes, run with them, each succeed once.
		owners := []struct {
			token string
			path  string
		}{
			{e.alice, fmt.Sprintf("/api/image/%d", a)},
			{e.bob, fmt.Sprintf("/api/image/%d", b)},
			{e.admin, fmt.Sprintf("/api/v1/admin/imagenes/%d", adminImg)},
		}
		got := make([]int, len(calls)+len(owners))
		errs := make([]error, len(got))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range got {
			r := req{method: "DELETE"}
			if i < len(calls) {
				r.token, r.path = calls[i].token, calls[i].path
			} else {
				r.token, r.path = owners[i-len(calls)].token, owners[i-len(calls)].path
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[i], errs[i] = e.status(r)
			}()
		}
		close(start)
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			want := 204
			if i < len(calls) {
				want = calls[i].want
			} else if owners[i-len(calls)].token == e.admin {
				want = 200
			}
			if got[i] != want {
				t.Errorf("round %d, call %d: got %d, want %d", round, i, got[i], want)
			}
		}
		for _, id := range []int{a, b, adminImg} {
			if e.rowExists(id) {
				t.Errorf("round %d: image %d still there", round, id)
			}
		}
		e.checkConsistent()
	}
}
