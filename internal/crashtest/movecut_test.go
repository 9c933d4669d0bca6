package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

// state is what a kill left of one image, or what the janitor made of it:
// its row, its trash entries, its live file, and the trash files of its
// name (a move cut between its copy and its delete leaves one beside the
// live file).
type state struct {
	row     bool
	entries int
	live    bool
	trash   int
}

func (s state) String() string {
	return fmt.Sprintf("row %v, entries %d, live %v, trash files %d", s.row, s.entries, s.live, s.trash)
}

// Where a move's kill leaves an image, and where the janitor must put it.
var (
	imageLive     = state{row: true, live: true}            // as before a delete, or after a restore
	imageTrashed  = state{entries: 1, trash: 1}             // as after a delete
	rowWithBoth   = state{row: true, live: true, trash: 1}  // a delete cut after its copy
	entryWithBoth = state{entries: 1, live: true, trash: 1} // a restore cut after its copy
	rowInTrash    = state{row: true, trash: 1}              // a delete's move done, no commit
	entryLive     = state{entries: 1, live: true}           // a restore's move done, no commit
	orphanBoth    = state{live: true, trash: 1}             // an orphan's move cut after its copy
	strays        = state{trash: 1}                         // a trash file without entry or row
	orphan        = state{live: true}                       // an upload's object, its row never committed
)

// TestKillMidMove kills a real process inside each operation that moves a
// file — serve's deletes (every route), restore and product writes, and
// the janitor's own moves — at the point of the storage's move where a
// crash leaves the most: on a bucket between the copy and the delete of
// the source (move-copied: both keys hold the object), on a folder after
// the rename and before the commit (after-move). It checks the state the
// kill left against SPEC §5/§9's account of it, runs one clean janitor
// pass, and checks that the pass settled it exactly (one row or one entry,
// the file in the one place they say, nothing adopted twice), that the
// store's invariants hold and that a second pass finds nothing to do. The
// undo of a refused commit moves the other way and, cut, leaves the state
// of the opposite cut (a refused delete's undo: rowWithBoth; a refused
// restore's: entryWithBoth), so it is covered by those.
func TestKillMidMove(t *testing.T) {
	h := newHarness(t)
	c := &http.Client{Timeout: 10 * time.Second}
	cases := []struct {
		name string
		// points: the fault point the kill uses per backend; a case with
		// no point for the backend under test is not in its table.
		points map[string]string
		// janitor: the killed process is `janitor --once` (else serve).
		janitor bool
		// setup makes the image (through a serve without faults, or behind
		// the storage's back) and returns its url and the request to kill.
		setup func(t *testing.T) (url, method, route, body string)
		// lag, on a bucket, holds back the storage request of the
		// operation that starts with it ("PUT ", "DELETE "): serve is
		// SIGKILLed while it is held, and the storage finishes it only
		// then, as a loaded MinIO finishes a dead client's request late.
		// The harness waits for that (drainProxy) before anything is
		// checked. Its setup may return no url: the held request names it.
		lag  string
		left map[string]state // what the kill leaves, per backend
		want state            // after one clean pass
	}{
		{name: "image delete (Balsamoa)", points: both, setup: func(t *testing.T) (string, string, string, string) {
			id, url := h.liveImage(t, c)
			return url, "DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", id), ""
		}, left: map[string]state{storagetest.S3: rowWithBoth, storagetest.Disk: rowInTrash}, want: imageLive},
		{name: "image delete (Cat API)", points: both, setup: func(t *testing.T) (string, string, string, string) {
			id, url := h.liveImage(t, c)
			return url, "DELETE", fmt.Sprintf("/api/image/%d", id), ""
		}, left: map[string]state{storagetest.S3: rowWithBoth, storagetest.Disk: rowInTrash}, want: imageLive},
		{name: "bulk delete", points: both, setup: func(t *testing.T) (string, string, string, string) {
			id, url := h.liveImage(t, c)
			return url, "POST", "/api/v1/admin/imagenes/eliminar", fmt.Sprintf(`{"ids":[%d]}`, id)
		}, left: map[string]state{storagetest.S3: rowWithBoth, storagetest.Disk: rowInTrash}, want: imageLive},
		{name: "product replace", points: both, setup: func(t *testing.T) (string, string, string, string) {
			_, url := h.liveImage(t, c)
			pid := h.product(t, c, url)
			return url, "PUT", fmt.Sprintf("/api/v1/admin/productos/%d", pid), `{"imagenes":[]}`
		}, left: map[string]state{storagetest.S3: rowWithBoth, storagetest.Disk: rowInTrash}, want: imageLive},
		{name: "product delete", points: both, setup: func(t *testing.T) (string, string, string, string) {
			_, url := h.liveImage(t, c)
			pid := h.product(t, c, url)
			return url, "DELETE", fmt.Sprintf("/api/v1/admin/productos/%d", pid), ""
		}, left: map[string]state{storagetest.S3: rowWithBoth, storagetest.Disk: rowInTrash}, want: imageLive},
		{name: "restore", points: both, setup: func(t *testing.T) (string, string, string, string) {
			entry, url := h.trashedImage(t, c)
			return url, "POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", entry), ""
		}, left: map[string]state{storagetest.S3: entryWithBoth, storagetest.Disk: entryLive}, want: imageTrashed},
		{name: "janitor: orphan to the trash", janitor: true,
			points: map[string]string{storagetest.S3: "move-copied", storagetest.Disk: "janitor-orphan"},
			setup: func(t *testing.T) (string, string, string, string) {
				url := storage.NewImageURL("png")
				h.kit.Put(t, url[1:], pngContent(), time.Hour)
				return url, "", "", ""
			}, left: map[string]state{storagetest.S3: orphanBoth, storagetest.Disk: strays}, want: imageTrashed},
		{name: "janitor: an aborted delete's file put back", janitor: true, points: both,
			setup: func(t *testing.T) (string, string, string, string) {
				_, url := h.liveImage(t, c)
				h.kit.Move(t, url[1:], ".papelera/"+storage.TrashName(h.lostEntryID(t), time.Now(), url))
				return url, "", "", ""
			}, left: map[string]state{storagetest.S3: rowWithBoth, storagetest.Disk: imageLive}, want: imageLive},
		{name: "janitor: a lost rename moved into the trash", janitor: true, points: both,
			setup: func(t *testing.T) (string, string, string, string) {
				entry, url := h.trashedImage(t, c)
				h.kit.Move(t, ".papelera/"+h.trashName(t, entry), url[1:])
				return url, "", "", ""
			}, left: map[string]state{storagetest.S3: entryWithBoth, storagetest.Disk: imageTrashed}, want: imageTrashed},
		{name: "janitor: a trash file without entry or row adopted", janitor: true,
			// The entry takes the id in the file's name (an aborted
			// transaction's): nothing moves, so the kill is after the
			// step, before its commit, on both backends.
			points: map[string]string{storagetest.S3: "after-move", storagetest.Disk: "after-move"},
			setup: func(t *testing.T) (string, string, string, string) {
				url := storage.NewImageURL("png")
				h.kit.Put(t, ".papelera/"+storage.TrashName(h.lostEntryID(t), time.Now(), url), pngContent(), time.Hour)
				return url, "", "", ""
			}, left: map[string]state{storagetest.S3: strays, storagetest.Disk: strays}, want: imageTrashed},
		{name: "upload whose PUT the storage finishes after the kill", points: lagOnly, lag: "PUT ",
			setup: func(t *testing.T) (string, string, string, string) { return "", "UPLOAD", "", "" },
			left:  map[string]state{storagetest.S3: orphan}, want: imageTrashed},
		{name: "restore whose copy the storage finishes after the kill", points: lagOnly, lag: "PUT ",
			setup: func(t *testing.T) (string, string, string, string) {
				entry, url := h.trashedImage(t, c)
				return url, "POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", entry), ""
			}, left: map[string]state{storagetest.S3: entryWithBoth}, want: imageTrashed},
		{name: "delete whose delete of the source the storage finishes after the kill", points: lagOnly, lag: "DELETE ",
			setup: func(t *testing.T) (string, string, string, string) {
				id, url := h.liveImage(t, c)
				return url, "DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", id), ""
			}, left: map[string]state{storagetest.S3: rowInTrash}, want: imageLive},
	}
	for _, tc := range cases {
		point := tc.points[h.kit.Kind]
		if point == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			url, method, route, body := tc.setup(t)
			switch {
			case tc.lag != "":
				url = h.killHeld(t, c, tc.lag, method, route, body)
			case tc.janitor:
				out, err := h.run([]string{"IMAGENES_FAULTS=" + point + "=1", "TRASH_RETENTION=168h"}, "janitor", "--once")
				if err == nil || faultName(out) != point {
					t.Fatalf("janitor armed at %s: %v, fault %q; want killed there\n%s", point, err, faultName(out), out)
				}
			default:
				h.kill(t, c, point, method, route, body)
			}
			if got := h.stateOf(t, url); got != tc.left[h.kit.Kind] {
				t.Errorf("killed at %s: left %s; want %s", point, got, tc.left[h.kit.Kind])
			}
			if err := h.janitor("", "168h"); err != nil {
				t.Fatalf("janitor after the kill: %v", err)
			}
			if got := h.stateOf(t, url); got != tc.want {
				t.Errorf("after one pass: %s; want %s", got, tc.want)
			}
			h.mu.Lock()
			CheckStore(t, h.pool, h.kit, h.stored, "after one pass")
			h.mu.Unlock()
			rep, err := h.janitorReport()
			if err != nil {
				t.Fatalf("second pass: %v", err)
			}
			if acts := rep.acts(); acts != "" {
				t.Errorf("second pass acted: %s", acts)
			}
		})
	}
}

// lagOnly: a kill from outside while a storage request is held, on a
// bucket only (a folder's rename is done when its process dies).
var lagOnly = map[string]string{storagetest.S3: "SIGKILL"}

// both: a move's kill point on each backend.
var both = map[string]string{storagetest.S3: "move-copied", storagetest.Disk: "after-move"}

// kill starts serve armed at point, sends the request that must reach it,
// and waits until serve died there.
func (h *harness) kill(t *testing.T, c *http.Client, point, method, route, body string) {
	t.Helper()
	h.start(point + "=1")
	err := h.call(c, method, route, body, nil)
	if err != errServerGone {
		h.stop()
		t.Fatalf("%s %s on serve armed at %s: %v; want the server gone", method, route, point, err)
	}
	<-h.exitErr
	h.server = nil
	h.settle()
	if got := faultName(h.stderr.String()); got != point {
		t.Fatalf("serve died at %q, want %s\n%s", got, point, h.stderr)
	}
}

// killHeld starts serve, sends the request (an upload when method is
// "UPLOAD"), SIGKILLs serve once the storage request starting with prefix
// is held, lets the storage have it, and waits until the storage is done.
// It returns the url the held request named.
func (h *harness) killHeld(t *testing.T, c *http.Client, prefix, method, route, body string) string {
	t.Helper()
	h.start("") // its own requests (the marker's PUT) go on
	h.proxy.holdRequests(prefix)
	defer h.proxy.release()
	sent := make(chan error, 1)
	go func() {
		if method == "UPLOAD" {
			_, err := h.upload(c)
			sent <- err
			return
		}
		sent <- h.call(c, method, route, body, nil)
	}()
	line := h.proxy.waitHeld()
	h.stop()
	if err := <-sent; err != errServerGone {
		t.Fatalf("%s %s: %v; want the server gone", method, route, err)
	}
	h.proxy.release()
	h.settle()
	// "PUT /BUCKET/recursos/… HTTP/1.1"
	_, target, _ := strings.Cut(line, " ")
	target, _, _ = strings.Cut(target, " ")
	target, _, _ = strings.Cut(target, "?")
	url, ok := strings.CutPrefix(target, "/"+h.kit.S3().Bucket())
	if !ok || !strings.HasPrefix(url, "/recursos/") {
		t.Fatalf("held %q: want a live object's request", line)
	}
	return url
}

// liveImage uploads an image through a serve without faults and returns
// its id and url.
func (h *harness) liveImage(t *testing.T, c *http.Client) (int32, string) {
	t.Helper()
	h.start("")
	defer h.stop()
	url, err := h.upload(c)
	if err != nil {
		t.Fatal(err)
	}
	var id int32
	if err := h.pool.QueryRow(context.Background(), `SELECT id FROM producto_imagenes WHERE url = $1`, url).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id, url
}

// trashedImage uploads and deletes an image, returning its trash entry.
func (h *harness) trashedImage(t *testing.T, c *http.Client) (int64, string) {
	t.Helper()
	id, url := h.liveImage(t, c)
	h.start("")
	defer h.stop()
	var out struct {
		PapeleraID int64 `json:"papelera_id"`
	}
	if err := h.call(c, "DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", id), "", &out); err != nil || out.PapeleraID == 0 {
		t.Fatalf("delete %d: %v, entry %d", id, err, out.PapeleraID)
	}
	return out.PapeleraID, url
}

// product makes a product holding url.
func (h *harness) product(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	h.start("")
	defer h.stop()
	id, err := h.createProduct(c, []string{url})
	if err != nil || id == 0 {
		t.Fatalf("create product: %v, id %d", err, id)
	}
	return id
}

// lostEntryID is an entry id that never committed, as a crashed delete's.
func (h *harness) lostEntryID(t *testing.T) int64 {
	t.Helper()
	var id int64
	if err := h.pool.QueryRow(context.Background(), `SELECT nextval(pg_get_serial_sequence('imagenes_papelera', 'id'))`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// trashName is entry id's trash file name.
func (h *harness) trashName(t *testing.T, id int64) string {
	t.Helper()
	var at time.Time
	var url string
	if err := h.pool.QueryRow(context.Background(), `SELECT eliminado_en, url FROM imagenes_papelera WHERE id = $1`, id).Scan(&at, &url); err != nil {
		t.Fatal(err)
	}
	return storage.TrashName(id, at, url)
}

// stateOf reads url's state.
func (h *harness) stateOf(t *testing.T, url string) state {
	t.Helper()
	var s state
	if err := h.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM producto_imagenes WHERE url = $1),
		(SELECT count(*) FROM imagenes_papelera WHERE url = $1)`, url).Scan(&s.row, &s.entries); err != nil {
		t.Fatal(err)
	}
	s.live = h.kit.Live(t, url)
	for _, name := range h.kit.Trash(t) {
		if strings.HasSuffix(name, "-"+path.Base(url)) {
			s.trash++
		}
	}
	return s
}

// passReport is the counts of `janitor --once --json` that say it acted.
type passReport struct {
	Recovered    int `json:"recovered"`
	Purged       int `json:"purged"`
	Orphans      int `json:"orphans"`
	Unattached   int `json:"unattached"`
	Dangling     int `json:"dangling"`
	Repaired     int `json:"repaired"`
	Adopted      int `json:"adopted"`
	TrashMissing int `json:"trash_missing"`
	InFlight     int `json:"in_flight"`
}

// acts names the counts that are not zero, "" when the pass did nothing.
func (r passReport) acts() string {
	var out []string
	for _, c := range []struct {
		name string
		n    int
	}{{"recovered", r.Recovered}, {"purged", r.Purged}, {"orphans", r.Orphans}, {"unattached", r.Unattached},
		{"repaired", r.Repaired}, {"adopted", r.Adopted}, {"in_flight", r.InFlight}, {"dangling", r.Dangling}, {"trash_missing", r.TrashMissing}} {
		if c.n != 0 {
			out = append(out, fmt.Sprintf("%s %d", c.name, c.n))
		}
	}
	return strings.Join(out, ", ")
}

// janitorReport runs one clean pass and returns its counts.
func (h *harness) janitorReport() (passReport, error) {
	var r passReport
	out, err := h.run([]string{"TRASH_RETENTION=168h"}, "janitor", "--once", "--json")
	if err != nil {
		return r, fmt.Errorf("%v: %s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return r, fmt.Errorf("report %q: %v", out, err)
	}
	return r, nil
}
