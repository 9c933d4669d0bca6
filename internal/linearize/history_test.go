package linearize

import (
	"cmp"
	"math"
	"net/http"
	"slices"

	"github.com/anishathalye/porcupine"
)

// span is a stretch of the run during which no client call starts: a fault
// and its settling (in-flight calls drained, a janitor pass, serve ready).
type span struct{ start, end int64 }

// result reads an answer's status: a 2xx is OK, 404 and 409 are
// themselves, no answer and a 5xx are Unknown; ok is false for any other
// status (a 400 or 413: refused, nothing done — such a call is left out of
// the history, which says it changed nothing).
func result(status int) (r Result, ok bool) {
	switch {
	case status >= 200 && status < 300:
		return OK, true
	case status == http.StatusNotFound:
		return NotFound, true
	case status == http.StatusConflict:
		return Conflict, true
	case status <= 0 || status >= 500:
		return Unknown, true
	}
	return 0, false
}

// history turns the calls into porcupine operations, one per image a call
// is about. fault spans settle what unanswered calls left.
//
// File reads (a /recursos/ url, the Cat family's GET) see the file, and a
// file moves before its transaction commits: a delete that fails after its
// move puts the file back (at once when PostgreSQL refuses the COMMIT; at
// the janitor's next pass when the outcome is unknown or serve died), and
// a coalesced batch that fails puts its files back before each member is
// retried alone, so a read beside such a call may find the file gone and a
// later one find it back, which no order of the calls explains. The
// protocol allows that (SPEC §12: after a fault and one janitor pass,
// nothing is lost), so a file read of an image is left out while a call
// that may move its file runs, and, when that call's outcome is unknown,
// until the end of the first fault span after its answer (the harness runs
// a janitor pass in each; after the run, a last one). Row reads (listings,
// a product's images, the Cat GET's 200) are never left out: rows change
// only at a commit.
func history(calls []call, faults []span) []porcupine.Operation {
	urlID := map[string]int32{}
	uploaded := map[int32]bool{}
	// onProduct: the images a PUT of the product named, answered OK or
	// unknown, and when the first such PUT began: before that, no call can
	// have put the image on the product.
	onProduct := map[int32]map[int32]int64{}
	for _, c := range calls {
		if c.kind == cUpload && c.status == http.StatusCreated {
			urlID[c.url] = c.id
			uploaded[c.id] = true
		}
		if r, ok := result(c.status); c.kind == cPut && ok && (r == OK || r == Unknown) {
			if onProduct[c.product] == nil {
				onProduct[c.product] = map[int32]int64{}
			}
			for _, id := range c.ids {
				if at, ok := onProduct[c.product][id]; !ok || c.call < at {
					onProduct[c.product][id] = c.call
				}
			}
		}
	}

	onto := newOnto(calls, onProduct)

	// settled: the end of the first fault span ending at or after t.
	settled := func(t int64) int64 {
		for _, f := range faults {
			if f.end >= t {
				return f.end
			}
		}
		return math.MaxInt64
	}
	type window struct{ from, to int64 }
	unsettled := map[int32][]window{}
	for _, c := range calls {
		switch c.kind {
		case cDelete, cCatDelete, cBulk, cRestore, cPut:
		default:
			continue
		}
		r, ok := result(c.status)
		ids := c.ids
		if c.kind == cPut {
			ids = onto.mayBeOn(c)
		}
		to := c.ret
		if ok && r == Unknown {
			to = settled(c.ret)
		}
		for _, id := range ids {
			unsettled[id] = append(unsettled[id], window{c.call, to})
		}
	}
	fileReadable := func(id int32, c call) bool {
		for _, w := range unsettled[id] {
			if c.ret >= w.from && c.call <= w.to {
				return false
			}
		}
		return true
	}

	var last int64
	for _, c := range calls {
		last = max(last, c.ret)
	}
	// during: whether t falls in a fault span.
	during := func(t int64) bool {
		for _, f := range faults {
			if t >= f.start && t <= f.end {
				return true
			}
		}
		return false
	}
	var ops []porcupine.Operation
	add := func(c call, r Result, in Input, out Output) {
		out.Result = r
		ret := c.ret
		if r == Unknown {
			// A call of unknown outcome may have happened at any moment
			// after it began, or never (the Jepsen convention: it never
			// returns). Bounded where the service makes it so, since each
			// call of unknown outcome an image has multiplies the orders
			// the checker tries:
			switch {
			case in.File:
				// its file is where it stays once a fault span's janitor
				// pass has settled it;
				ret = settled(c.ret)
			case c.status != 0 && c.status != -1:
				// an answer (a 5xx) comes after the transaction ended, its
				// COMMIT refused or cut: the rows are settled by then
				// (a coalesced delete waits for its batch);
			case during(c.ret):
				// a call cut by a fault (serve killed, or PostgreSQL's
				// connections): nothing of it runs once that fault's span
				// ends (serve dead, the calls drained);
				ret = settled(c.ret)
			default:
				ret = math.MaxInt64
			}
			if ret == math.MaxInt64 {
				ret = last + 1
			}
		}
		ops = append(ops, porcupine.Operation{ClientId: c.client, Call: c.call, Return: ret, Input: in, Output: out})
	}
	// change is in both views of its image when it may have changed
	// something; a 404 is a fact of the rows alone (the row or entry was
	// not there when the call looked, which a file moved in or out before
	// its own call's commit does not say).
	change := func(c call, r Result, in Input, out Output) {
		add(c, r, in, out)
		if r == OK || r == Unknown {
			in.File = true
			add(c, r, in, out)
		}
	}
	for _, c := range calls {
		r, ok := result(c.status)
		if !ok {
			continue
		}
		switch c.kind {
		case cUpload:
			if r == OK {
				change(c, r, Input{Kind: Upload, ID: c.id}, Output{})
			}
		case cDelete, cCatDelete, cBulk:
			if r == Conflict {
				continue // no delete answers 409; a refusal changed nothing
			}
			for _, id := range c.ids {
				switch {
				case r != OK:
					change(c, r, Input{Kind: Delete, ID: id, Via: c.kind}, Output{})
				case c.kind == cBulk && slices.Contains(c.missing, id):
					change(c, NotFound, Input{Kind: Delete, ID: id, Via: c.kind}, Output{})
				default:
					change(c, OK, Input{Kind: Delete, ID: id, Via: c.kind}, Output{Entry: c.entries[id]})
				}
			}
		case cRestore:
			out := Output{}
			if c.restored != nil {
				out.Product = *c.restored
			}
			change(c, r, Input{Kind: Restore, ID: c.ids[0], Entry: c.entry}, out)
		case cPut:
			if r != OK && r != Unknown {
				continue // 404, 409: refused, nothing changed
			}
			for _, id := range onto.mayBeOn(c) {
				k := Detach
				if slices.Contains(c.ids, id) {
					k = Attach
				}
				change(c, r, Input{Kind: k, ID: id, Product: c.product}, Output{})
			}
		case cFile:
			if (r == OK || r == NotFound) && fileReadable(c.ids[0], c) {
				add(c, OK, Input{Kind: Read, ID: c.ids[0], Via: c.kind, File: true}, Output{Live: r == OK})
			}
		case cCatGet:
			// It reads the row, then the file: a 200 saw both live, each
			// at its moment; a 404 may be either missing, and says nothing
			// of one view alone.
			if r == OK {
				add(c, OK, Input{Kind: Read, ID: c.ids[0], Via: c.kind}, Output{Live: true})
				if fileReadable(c.ids[0], c) {
					add(c, OK, Input{Kind: Read, ID: c.ids[0], Via: c.kind, File: true}, Output{Live: true})
				}
			}
		case cProduct, cListed:
			if r != OK {
				continue
			}
			for _, id := range onto.mayBeOn(c) {
				there := false
				for _, u := range c.listed {
					there = there || urlID[u] == id
				}
				add(c, OK, Input{Kind: OnProduct, ID: id, Product: c.product, Via: c.kind}, Output{Live: there})
			}
		case cTrash:
			if r != OK {
				continue
			}
			shown := map[int32]bool{}
			for _, s := range c.trash {
				if uploaded[s.image] {
					shown[s.image] = true
					add(c, OK, Input{Kind: InTrash, ID: s.image, Entry: s.entry}, Output{Product: s.product})
				}
			}
			if c.complete {
				for id := range uploaded {
					if !shown[id] {
						add(c, OK, Input{Kind: InTrash, ID: id}, Output{})
					}
				}
			}
		}
	}
	return ops
}

// onto knows which images may be on a product while a call runs: the
// ones a PUT of it named (answered OK or unknown), less the ones a later
// PUT of it surely took off. A PUT replaces the whole set, so an image
// leaves the product at the first PUT answered OK that does not name it,
// and only a PUT naming it or a restore of it can put it back. Leaving the
// others out keeps the operations per image few (a long run names
// thousands of images); their operations would change nothing (a Detach of
// an image not on the product) or only check what the model already holds.
type onto struct {
	named map[int32]map[int32]int64 // product → image → first PUT naming it, its start
	puts  map[int32][]call          // product → its PUTs answered OK, by answer time
	back  map[int32][][2]int64      // image → the calls that may put it on a product: PUTs naming it, restores
}

func newOnto(calls []call, named map[int32]map[int32]int64) *onto {
	o := &onto{named: named, puts: map[int32][]call{}, back: map[int32][][2]int64{}}
	for _, c := range calls {
		r, ok := result(c.status)
		if !ok || (r != OK && r != Unknown) {
			continue
		}
		end := c.ret
		if r == Unknown {
			end = math.MaxInt64 // it may have happened at any time after
		}
		switch c.kind {
		case cPut:
			if r == OK {
				o.puts[c.product] = append(o.puts[c.product], c)
			}
			for _, id := range c.ids {
				o.back[id] = append(o.back[id], [2]int64{c.call, end})
			}
		case cRestore:
			o.back[c.ids[0]] = append(o.back[c.ids[0]], [2]int64{c.call, end})
		}
	}
	for _, ps := range o.puts {
		slices.SortFunc(ps, func(a, b call) int { return cmp.Compare(a.ret, b.ret) })
	}
	return o
}

// mayBeOn lists the images that may be on c's product while c runs.
func (o *onto) mayBeOn(c call) []int32 {
	// d: the last PUT of the product answered OK before c began. After it,
	// an image it did not name is off the product until a call that may
	// put it back.
	ps := o.puts[c.product]
	i, _ := slices.BinarySearchFunc(ps, c.call, func(p call, t int64) int { return cmp.Compare(p.ret, t) })
	var d *call
	if i > 0 {
		d = &ps[i-1]
	}
	var ids []int32
	for id, at := range o.named[c.product] {
		if at > c.ret {
			continue // no PUT naming it had begun
		}
		if d != nil && !slices.Contains(d.ids, id) && !o.mayComeBack(id, d.call, c.ret) {
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// mayComeBack reports whether a call that may put id on a product runs at
// some moment of [from, to].
func (o *onto) mayComeBack(id int32, from, to int64) bool {
	for _, b := range o.back[id] {
		if b[0] <= to && b[1] >= from {
			return true
		}
	}
	return false
}
