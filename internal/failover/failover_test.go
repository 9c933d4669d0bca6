package failover

import (
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/crashtest"
	"github.com/imagenes/imagenes/internal/storage"
)

// TestFailover: serve on a primary and its streaming standby, behind a
// two-host DATABASE_URL, under upload/product/delete/restore load; halfway
// through the primary is SIGKILLed and the standby promoted. No answer is a
// 5xx other than 503 (503s are allowed while there is no primary), the
// service comes back by itself (the same URL reaches the promoted standby),
// and after one janitor pass every row has its file, every trash entry its
// file, and every upload that got its 201 is live or in the trash.
// FAILOVER_SECONDS (default 12; `make failover` runs 120) is how long the
// load runs.
func TestFailover(t *testing.T) {
	t.Parallel()
	run := 12 * time.Second
	if v := os.Getenv("FAILOVER_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4 {
			t.Fatalf("FAILOVER_SECONDS=%q: want a number of seconds, at least 4", v)
		}
		run = time.Duration(n) * time.Second
	}
	p := startPair(t)
	s := newServer(t, p.url)
	// The in-process janitor runs through the switch too; its grace
	// outlasts an upload in flight.
	s.start("JANITOR_SCHEDULE=@every 2s", "JANITOR_ORPHAN_GRACE=30s")
	c := newClient(s)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			load(c, rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano()))), stop)
		}()
	}
	time.Sleep(run / 2)
	killed := time.Now()
	p.failOver()
	promoted := time.Since(killed)
	// Recovered by itself: an upload gets its 201 again, with nothing
	// restarted but the database.
	deadline := time.Now().Add(2 * time.Minute)
	for c.upload() == "" {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("no upload succeeded in the 2 minutes after the promotion; answers: %s\n%s", c.summary(), s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recovered := time.Since(killed)
	time.Sleep(max(run/2, 2*time.Second))
	close(stop)
	wg.Wait()

	c.mu.Lock()
	bad, last := c.bad, c.last
	c.mu.Unlock()
	last503 := "none"
	if !last.IsZero() {
		last503 = last.Sub(killed).Round(time.Millisecond).String() + " after the kill"
	}
	t.Logf("answers: %s; primary killed and standby promoted in %s; first upload stored again %s after the kill; last 503: %s",
		c.summary(), promoted.Round(time.Millisecond), recovered.Round(time.Millisecond), last503)
	for _, b := range bad {
		t.Errorf("an answer the service must never give: %s", b)
	}
	if t.Failed() {
		t.Logf("serve's log:\n%s", s.stderr)
	}

	s.stop(syscall.SIGTERM)
	rep := s.janitor()
	t.Logf("the janitor pass after the switch: %v", rep)
	crashtest.CheckInvariants(t, p.pool(), s.dir, c.stored, "after the failover and one janitor pass")
}

// load runs random operations (uploads, products of them, image deletes,
// restores) until stop closes.
func load(c *client, rnd *rand.Rand, stop <-chan struct{}) {
	var mine []string
	var imgs []imagen
	for {
		select {
		case <-stop:
			return
		default:
		}
		before := c.count503()
		switch op := rnd.IntN(10); {
		case op < 4:
			if u := c.upload(); u != "" {
				mine = append(mine, u)
			}
		case op < 6 && len(mine) > 0:
			imgs = append(imgs, c.product(mine...)...)
			mine = nil
		case op < 8 && len(imgs) > 0:
			k := rnd.IntN(len(imgs))
			c.deleteImage(imgs[k].ID)
			imgs = append(imgs[:k], imgs[k+1:]...)
		default:
			c.restoreSome(rnd.IntN)
		}
		if c.count503() != before {
			time.Sleep(20 * time.Millisecond) // no primary: no need to spin
		}
	}
}

func (c *client) count503() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statuses[http.StatusServiceUnavailable]
}

// TestPromotedStandbyWithoutTheDelete: replication is asynchronous, so a
// delete the primary acknowledged may never reach the standby. Here the
// standby stops streaming, an image is deleted (200: its file moved into
// the trash, its row gone, an entry written — on the primary only), the
// primary is SIGKILLed and the standby promoted. On the new primary the
// delete never happened: the row is live again and no entry names the file
// in the trash. The next janitor pass puts the file back under its row —
// even when the new primary has handed the lost entry's id to another
// delete since (its sequence never saw the lost one), which is the usual
// case right after a promotion.
func TestPromotedStandbyWithoutTheDelete(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	s := newServer(t, p.url)
	s.start("JANITOR_ENABLED=false")
	c := newClient(s)
	a, b := c.upload(), c.upload()
	imgs := c.product(a, b)
	if a == "" || b == "" || len(imgs) != 2 {
		t.Fatalf("setup: uploads %q %q, product images %v; answers %s", a, b, imgs, c.summary())
	}
	p.waitReplayed()
	localpg(t, "detach", p.name+"-standby")

	lost := c.deleteImage(imgs[0].ID)
	if lost == 0 {
		t.Fatalf("the delete of image %d was not acknowledged; answers %s", imgs[0].ID, c.summary())
	}
	name := storage.TrashName(lost, trashedAt(t, p, lost), imgs[0].URL)
	if live(s, imgs[0].URL) || !exists(filepath.Join(s.dir, ".papelera", name)) {
		t.Fatalf("after the acknowledged delete: live %v, trash file %s %v; want it in the trash only",
			live(s, imgs[0].URL), name, exists(filepath.Join(s.dir, ".papelera", name)))
	}

	p.failOver()
	deadline := time.Now().Add(2 * time.Minute)
	for c.json("GET", "/api/v1/admin/papelera?limite=5", "", nil) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the service did not come back within 2 minutes of the promotion: %s\n%s", c.summary(), s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pool := p.pool()
	ctx := context.Background()
	var rows, entries int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM producto_imagenes WHERE id = $1), (SELECT count(*) FROM imagenes_papelera WHERE id = $2 AND url = $3)`,
		imgs[0].ID, lost, imgs[0].URL).Scan(&rows, &entries); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || entries != 0 {
		t.Fatalf("on the promoted standby: %d rows of image %d, %d entries of its delete; want the row back and no entry (the delete lost)", rows, imgs[0].ID, entries)
	}
	// Another delete on the new primary: its sequence resumes from what
	// the standby had, so it may hand out the lost entry's id again.
	again := c.deleteImage(imgs[1].ID)
	if again == 0 {
		t.Fatalf("the delete of image %d after the promotion: %s", imgs[1].ID, c.summary())
	}
	t.Logf("the lost delete's entry was %d; the first delete on the promoted standby got entry %d", lost, again)

	s.stop(syscall.SIGTERM)
	rep := s.janitor()
	t.Logf("the janitor pass: %v", rep)
	if !live(s, imgs[0].URL) {
		t.Errorf("image %d (%s): its row is live and its file is not: the janitor did not put it back from the trash", imgs[0].ID, imgs[0].URL)
	}
	crashtest.CheckInvariants(t, pool, s.dir, c.stored, "after the promotion and one janitor pass")
}

// trashedAt is when entry id was deleted, read on the primary.
func trashedAt(t *testing.T, p *pair, id int64) time.Time {
	t.Helper()
	var at time.Time
	if err := p.pool().QueryRow(context.Background(), `SELECT eliminado_en FROM imagenes_papelera WHERE id = $1`, id).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at
}

func live(s *server, url string) bool { return exists(filepath.Join(s.dir, filepath.FromSlash(url))) }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
