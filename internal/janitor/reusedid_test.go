package janitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/storage"
)

// A delete that a primary acknowledged and never sent its standby is lost
// when the standby is promoted: its row is live again, its file in the
// trash under an entry id the new primary's sequence never saw — and hands
// out again to the next delete. The file of the lost delete is not that
// entry's (the entry's trash name is another): the pass puts it back under
// its row. It was taken for the entry's by its id alone and left there,
// the row without its file for good. On both backends (internal/failover
// shows it on a real promoted standby).
func TestRecoverAFileWhoseEntryIDWasGivenAgain(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"entry's file first", "lost file first"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			lostID, lostURL := f.image(false)
			e, otherURL := f.trashed() // the later delete, given the lost one's id
			at := e.EliminadoEn.Add(-time.Minute)
			if order == "entry's file first" {
				at = e.EliminadoEn.Add(time.Minute)
			}
			lostName := storage.TrashName(e.ID, at, lostURL)
			f.kit.Move(t, key(lostURL), trashKey(lostName))
			rep, err := f.j.Run(context.Background(), cfg())
			if err != nil {
				t.Fatalf("pass: %v", err)
			}
			if got := countsOf(rep); got != (counts{recovered: 1}) {
				t.Errorf("got %+v, want one recovered", got)
			}
			if !f.isLive(lostURL) || f.kit.Exists(t, trashKey(lostName)) {
				t.Errorf("image %d: live %v, in the trash %v; want its file back live", lostID, f.isLive(lostURL), f.kit.Exists(t, trashKey(lostName)))
			}
			if name := storage.TrashName(e.ID, e.EliminadoEn, otherURL); !f.kit.Exists(t, trashKey(name)) {
				t.Errorf("entry %d's own file %s is no longer in the trash", e.ID, name)
			}
		})
	}
}
