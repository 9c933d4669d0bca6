package linearize

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// op is a hand-written operation: client, call and return times, what and
// the answer.
func op(client int, call, ret int64, in Input, out Output) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

var (
	up      = func(id int32) Input { return Input{Kind: Upload, ID: id} }
	del     = func(id int32) Input { return Input{Kind: Delete, ID: id} }
	read    = func(id int32) Input { return Input{Kind: Read, ID: id} }
	restore = func(id int32, e int64) Input { return Input{Kind: Restore, ID: id, Entry: e} }
	attach  = func(id, p int32) Input { return Input{Kind: Attach, ID: id, Product: p} }
	detach  = func(id, p int32) Input { return Input{Kind: Detach, ID: id, Product: p} }
	onProd  = func(id, p int32) Input { return Input{Kind: OnProduct, ID: id, Product: p} }
	inTrash = func(id int32, e int64) Input { return Input{Kind: InTrash, ID: id, Entry: e} }
	ok      = Output{Result: OK}
	gone    = Output{Result: NotFound}
	unknown = Output{Result: Unknown}
	there   = Output{Live: true}
	absent  = Output{Live: false}
	entry   = func(e int64) Output { return Output{Result: OK, Entry: e} }
	backTo  = func(p int32) Output { return Output{Result: OK, Product: p} }
)

// never is the return time of an operation without an answer.
const never = math.MaxInt64

// TestModel feeds the checker hand-written histories: the ones a correct
// service can produce must pass, and the lies must be caught — the checker
// can fail.
func TestModel(t *testing.T) {
	tests := []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"a delete answered 200 whose image a later GET still serves", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, del(1), entry(10)),
			op(1, 4, 5, read(1), there),
		}, porcupine.Illegal},
		{"a GET during the delete may see either", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 6, del(1), entry(10)),
			op(1, 3, 4, read(1), there),
			op(2, 3, 5, read(1), absent),
			op(1, 7, 8, read(1), absent),
		}, porcupine.Ok},
		{"a live image lost: GET 404 with no delete", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(1, 2, 3, read(1), absent),
		}, porcupine.Illegal},
		{"an unanswered delete that happened", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, never, del(1), unknown),
			op(1, 4, 5, read(1), absent),
			op(1, 6, 7, del(1), gone),
		}, porcupine.Ok},
		{"an unanswered delete that never happened", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, never, del(1), unknown),
			op(1, 4, 5, read(1), there),
		}, porcupine.Ok},
		{"an unanswered delete cannot happen twice: absent, then there", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, never, del(1), unknown),
			op(1, 4, 5, read(1), absent),
			op(1, 6, 7, read(1), there),
		}, porcupine.Illegal},
		{"two deletes both answered 200", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 5, del(1), entry(10)),
			op(1, 2, 5, del(1), entry(11)),
		}, porcupine.Illegal},
		{"a 404 for an image that is live", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, del(1), gone),
		}, porcupine.Illegal},
		{"restore brings the image back to its product", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, attach(1, 7), ok),
			op(0, 4, 5, del(1), entry(10)),
			op(0, 6, 7, restore(1, 10), backTo(7)),
			op(0, 8, 9, read(1), there),
			op(0, 10, 11, onProd(1, 7), there),
			op(0, 12, 13, restore(1, 10), gone),
		}, porcupine.Ok},
		{"a restore answered 200 with the file not back", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 4, 5, del(1), entry(10)),
			op(0, 6, 7, restore(1, 10), backTo(0)),
			op(1, 8, 9, read(1), absent),
		}, porcupine.Illegal},
		{"a restore of the entry the image is under answered 404", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 4, 5, del(1), entry(10)),
			op(0, 6, 7, restore(1, 10), gone),
		}, porcupine.Illegal},
		{"a restore refused with 409", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 4, 5, del(1), entry(10)),
			op(0, 6, 7, restore(1, 10), Output{Result: Conflict}),
		}, porcupine.Illegal},
		{"a product write drops the image; the trash listing names its entry; restored", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, attach(1, 7), ok),
			op(0, 4, 5, detach(1, 7), ok),
			op(1, 6, 7, read(1), absent),
			op(1, 8, 9, inTrash(1, 12), backTo(7)),
			op(1, 10, 11, restore(1, 12), backTo(7)),
			op(1, 12, 13, onProd(1, 7), there),
		}, porcupine.Ok},
		{"a product write answered 200 that kept an image it did not name", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, attach(1, 7), ok),
			op(0, 4, 5, detach(1, 7), ok),
			op(1, 6, 7, read(1), there),
		}, porcupine.Illegal},
		{"a trashed image missing from the whole trash listing: lost", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, Input{Kind: Delete, ID: 1, Via: "cat"}, entry(0)),
			op(0, 4, 5, inTrash(1, 0), ok),
		}, porcupine.Illegal},
		{"a 404 changes nothing: the entry a listing showed stays the image's", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, Input{Kind: Delete, ID: 1, Via: "cat"}, entry(0)),
			op(1, 4, 5, inTrash(1, 3), backTo(0)),
			op(1, 6, 7, del(1), gone),
			op(1, 8, 9, inTrash(1, 3), backTo(0)),
		}, porcupine.Ok},
		{"an unanswered restore, settled before a later read, that never happened", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, del(1), entry(10)),
			op(0, 4, 20, restore(1, 10), unknown),
			op(1, 21, 22, read(1), absent),
			op(1, 23, 24, inTrash(1, 10), backTo(0)),
		}, porcupine.Ok},
		{"an unanswered restore, settled before a later read, that happened", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, del(1), entry(10)),
			op(0, 4, 20, restore(1, 10), unknown),
			op(1, 21, 22, read(1), there),
			op(1, 23, 24, restore(1, 10), gone),
		}, porcupine.Ok},
		{"an unanswered restore that happened and did not", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, del(1), entry(10)),
			op(0, 4, 20, restore(1, 10), unknown),
			op(1, 21, 22, read(1), there),
			op(1, 23, 24, inTrash(1, 10), backTo(0)),
		}, porcupine.Illegal},
		{"a file seen back before the restore commits, in its own view", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 0, 1, Input{Kind: Upload, ID: 1, File: true}, ok),
			op(0, 2, 3, del(1), entry(10)),
			op(0, 2, 3, Input{Kind: Delete, ID: 1, File: true}, entry(10)),
			op(0, 4, 10, restore(1, 10), backTo(0)),
			op(0, 4, 10, Input{Kind: Restore, ID: 1, Entry: 10, File: true}, backTo(0)),
			op(1, 5, 6, Input{Kind: Read, ID: 1, File: true}, there),
			op(2, 7, 8, inTrash(1, 10), backTo(0)),
		}, porcupine.Ok},
		{"an entry older than the image's last cannot be its new one", []porcupine.Operation{
			op(0, 0, 1, up(1), ok),
			op(0, 2, 3, del(1), entry(10)),
			op(0, 4, 5, restore(1, 10), backTo(0)),
			op(0, 6, 7, del(1), entry(0)),
			op(0, 8, 9, inTrash(1, 10), backTo(0)),
		}, porcupine.Illegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, info := porcupine.CheckOperationsVerbose(Model, tt.history, 0)
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if got == porcupine.Illegal {
				// The drawing of a failure must be writable.
				p := filepath.Join(t.TempDir(), "history.html")
				if err := porcupine.VisualizePath(Model, info, p); err != nil {
					t.Fatalf("visualize: %v", err)
				}
				b, err := os.ReadFile(p)
				if err != nil || !strings.Contains(string(b), "<html") {
					t.Errorf("visualization %s: %v, %d bytes", p, err, len(b))
				}
			}
		})
	}
}
