// Package linearize checks the service's answers as a history, the way
// Jepsen checks databases: concurrent clients record every call with its
// invocation and return times and its answer while faults are injected
// (run_test.go), and porcupine checks that history against the small
// sequential model of images and trash entries in this file. Test-only in
// spirit: nothing outside its tests imports it.
package linearize

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Kind is what one operation of the model does to one image. A call that
// touches several images (the bulk route, a product write, a listing) is
// recorded as one operation per image, all with the call's times: the
// history is then partitioned by image id, and each partition is checked on
// its own (porcupine's Partition), which keeps checking fast. The
// projection checks less than the whole (the bulk route's all-or-nothing
// across images is not seen) but never more: a failure is a real one.
type Kind uint8

// Kinds of operation.
const (
	// Upload: an upload answered 201 with this image id (uploads without an
	// answer name no id and are left out: no client can name their image).
	Upload Kind = iota
	// Delete: a delete of the image (either family's, or one id of the bulk
	// route). OK carries the trash entry (0 when the answer names none, as
	// the Cat family's 204).
	Delete
	// Restore of the trash entry Entry, whose image the client knows.
	Restore
	// Read: the image's file fetched (its /recursos/ url, or the Cat
	// family's GET), or its row listed: Live says whether it was there.
	Read
	// Attach: the image was named in a PUT of product Product's images.
	Attach
	// Detach: the image was not named in a PUT of product Product's images:
	// if it was on the product, the PUT trashes it.
	Detach
	// OnProduct: a read of product Product's images: Live says whether the
	// image was among them.
	OnProduct
	// InTrash: the trash listing shows entry Entry for the image (Entry 0:
	// a listing of the whole trash does not show the image at all).
	InTrash
)

var kindNames = [...]string{"upload", "delete", "restore", "read", "attach", "detach", "on-product", "in-trash"}

func (k Kind) String() string { return kindNames[k] }

// Result is how an answer is read.
type Result uint8

// Results.
const (
	// OK: the call answered that it did it (2xx).
	OK Result = iota
	// NotFound: 404.
	NotFound
	// Conflict: 409.
	Conflict
	// Unknown: no answer (a timeout, a connection cut by a kill) or a 5xx,
	// whose change may or may not have happened. Such an operation is given a
	// return time after every other (the Jepsen convention): the checker may
	// place it anywhere after its call, including after everything else,
	// which is "it never happened".
	Unknown
)

var resultNames = [...]string{"ok", "404", "409", "unknown"}

func (r Result) String() string { return resultNames[r] }

// Input is one operation on one image.
type Input struct {
	Kind    Kind
	ID      int32  // the image
	Entry   int64  // Restore, InTrash: the trash entry
	Product int32  // Attach, Detach, OnProduct: the product
	Via     string // which route, for the drawing
	// File: the operation is in the image's file view, not its row view.
	// A file moves before its transaction commits (out of the live place
	// for a delete, back into it for a restore), so a read of the file may
	// see a change the rows show only later: each image is checked twice,
	// once with the reads of its file and once with the reads of its rows,
	// every change in both. Each alone must be linearizable: the file
	// changes at one instant within the call, the rows at another.
	File bool
}

// Output is its answer.
type Output struct {
	Result  Result
	Entry   int64 // Delete OK: the entry the answer named (0: none named)
	Live    bool  // Read, OnProduct
	Product int32 // Restore OK, InTrash: the product the answer or listing gives (0: none)
}

// State is what the model knows of one image.
type State struct {
	Exists  bool  // uploaded
	Live    bool  // a row serves it; else it is in the trash (when Exists)
	Product int32 // live: its product (0: none); trashed: the product a restore gives back
	Entry   int64 // trashed: its entry, 0 while unknown (a Cat delete, a product write)
	// Last is the highest entry this image is known to have had. Entries are
	// numbered by a sequence at the delete, and an image's next delete
	// comes after its last entry was restored, so an entry not yet known
	// is above Last.
	Last int64
}

// trashedAs reports whether s is in the trash under entry e, as far as the
// model can tell (an unknown entry may be e when e is above Last).
func (s State) trashedAs(e int64) bool {
	return s.Exists && !s.Live && (s.Entry == e || (s.Entry == 0 && e > s.Last))
}

// step is the sequential specification of one image: the states it may be
// in after the operation, none when the answer is impossible in s. A call
// of unknown outcome leads to two: it did not happen, or it did (with the
// effect a success would have had).
func step(s State, in Input, out Output) []State {
	if out.Result == Unknown {
		if next, ok := effect(s, in); ok {
			return []State{s, next}
		}
		return []State{s}
	}
	if !legal(s, in, out) {
		return nil
	}
	if out.Result != OK {
		return []State{s} // a 404: nothing done
	}
	next, _ := effect(s, in)
	return []State{next}
}

// effect is what the operation does to s when it succeeds; ok is false when
// it cannot succeed in s (a success would be a lie). Reads change nothing.
func effect(s State, in Input) (next State, ok bool) {
	switch in.Kind {
	case Upload:
		return State{Exists: true, Live: true}, !s.Exists
	case Delete:
		return trashed(s, 0), s.Live
	case Restore:
		return restored(s, in.Entry), s.trashedAs(in.Entry)
	case Attach:
		if s.Live && (s.Product == 0 || s.Product == in.Product) {
			s.Product = in.Product
			return s, true
		}
		return s, false
	case Detach:
		// A PUT that happened trashed the image if it was on the product.
		if s.Live && s.Product == in.Product {
			return trashed(s, 0), true
		}
		return s, true
	}
	return s, true
}

// legal reports whether out is a true answer to in in state s, and fills
// in what the answer tells (the entry a delete names).
func legal(s State, in Input, out Output) bool {
	switch in.Kind {
	case Upload:
		return out.Result == OK && !s.Exists
	case Delete:
		switch out.Result {
		case OK:
			return s.Live && (out.Entry == 0 || out.Entry > s.Last)
		case NotFound:
			return !s.Live
		}
	case Restore:
		switch out.Result {
		case OK:
			return s.trashedAs(in.Entry) && out.Product == s.Product
		case NotFound:
			// A lie only when the model knows the entry is the image's.
			return !(s.Exists && !s.Live && s.Entry == in.Entry)
		}
		// 409: no url is shared and no product is deleted here, so a
		// restore has no reason to refuse but a lost file.
	case Attach:
		return out.Result == OK && s.Live && (s.Product == 0 || s.Product == in.Product)
	case Detach:
		return out.Result == OK
	case Read:
		return s.Live == out.Live
	case OnProduct:
		return (s.Live && s.Product == in.Product) == out.Live
	case InTrash:
		if in.Entry == 0 {
			return !(s.Exists && !s.Live)
		}
		return s.trashedAs(in.Entry) && out.Product == s.Product
	}
	return false
}

func trashed(s State, entry int64) State {
	s.Live, s.Entry, s.Last = false, entry, max(s.Last, entry)
	return s
}

func restored(s State, entry int64) State {
	s.Live, s.Entry, s.Last = true, 0, max(s.Last, entry)
	return s
}

// Model is the porcupine model: one image (in one view) per partition.
var Model = images.ToModel()

var images = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		type key struct {
			id   int32
			file bool
		}
		byID := map[key][]porcupine.Operation{}
		var order []key
		for _, op := range history {
			in := op.Input.(Input)
			k := key{in.ID, in.File}
			if _, ok := byID[k]; !ok {
				order = append(order, k)
			}
			byID[k] = append(byID[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, k := range order {
			out = append(out, byID[k])
		}
		return out
	},
	Init: func() []any { return []any{State{}} },
	Step: func(state, input, output any) []any {
		in, out := input.(Input), output.(Output)
		var next []any
		for _, s := range step(state.(State), in, out) {
			next = append(next, after(s, in, out))
		}
		return next
	},
	DescribeOperation: func(input, output any) string {
		return describe(input.(Input), output.(Output))
	},
	DescribeState: func(state any) string {
		s := state.(State)
		switch {
		case !s.Exists:
			return "not uploaded"
		case s.Live:
			return fmt.Sprintf("live, product %d", s.Product)
		case s.Entry == 0:
			return fmt.Sprintf("trash (entry unknown, > %d), product %d", s.Last, s.Product)
		}
		return fmt.Sprintf("trash entry %d, product %d", s.Entry, s.Product)
	},
}

// after fills in what a definite answer tells of the state: the entry a
// delete answered names, the entry a trash listing shows.
func after(s State, in Input, out Output) State {
	if out.Result != OK {
		return s
	}
	switch {
	case in.Kind == Delete && !s.Live && s.Entry == 0 && out.Entry != 0:
		s.Entry, s.Last = out.Entry, max(s.Last, out.Entry)
	case in.Kind == InTrash && in.Entry != 0:
		s.Entry, s.Last = in.Entry, max(s.Last, in.Entry)
	}
	return s
}

func describe(in Input, out Output) string {
	what := fmt.Sprintf("%s %d", in.Kind, in.ID)
	switch in.Kind {
	case Restore:
		what = fmt.Sprintf("restore entry %d of %d", in.Entry, in.ID)
	case Attach, Detach, OnProduct:
		what += fmt.Sprintf(" product %d", in.Product)
	case InTrash:
		what = fmt.Sprintf("trash shows entry %d for %d", in.Entry, in.ID)
	}
	if in.Via != "" {
		what += " (" + in.Via + ")"
	}
	if in.File {
		what = "[file] " + what
	}
	res := out.Result.String()
	switch {
	case in.Kind == Read || in.Kind == OnProduct:
		res = map[bool]string{true: "there", false: "absent"}[out.Live]
	case in.Kind == Delete && out.Result == OK:
		res = fmt.Sprintf("ok, entry %d", out.Entry)
	case (in.Kind == Restore && out.Result == OK) || in.Kind == InTrash:
		res = fmt.Sprintf("ok, product %d", out.Product)
	}
	return what + " → " + res
}
