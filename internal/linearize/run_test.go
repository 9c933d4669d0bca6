package linearize

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/imagenes/imagenes/internal/crashtest"
)

// clients is how many call the service at once.
const clients = 6

// fault is one kind of fault the run injects while calls are in flight:
// inject breaks something, and once the calls in flight have ended, mend
// repairs it (serve started again after its kill, PostgreSQL after its
// crash). A janitor pass then settles what the fault left.
//
// Storage faults (a fault driver wrapping the storage, issue 21) belong
// here as more kinds: inject restarting serve with the driver armed by its
// settings, mend restarting it unarmed.
type fault struct {
	name   string
	inject func(h *harness) error
	mend   func(h *harness) error
}

var faultKinds = []fault{
	{name: "serve SIGKILL",
		inject: func(h *harness) error { h.kill(); return nil },
		mend: func(h *harness) error {
			if err := h.settle(); err != nil {
				return err
			}
			h.start()
			return nil
		}},
	{name: "PostgreSQL crash and restart",
		inject: func(h *harness) error { return h.stopPostgres() },
		mend:   func(h *harness) error { return h.startPostgres() }},
}

// TestLinearizable runs the clients for LINEAR_SECONDS (default 16) with
// LINEAR_FAULTS faults (default 2, then one per 10 s: serve SIGKILLed and
// PostgreSQL restarted in turn), then checks every answer as one history
// against the model (model.go). `make linearizable` runs it long.
// LINEAR_SEED repeats a run's choices of calls; LINEAR_OUTDIR keeps a
// failing run's drawing (default: a new folder under the temp dir).
func TestLinearizable(t *testing.T) {
	seconds := envInt(t, "LINEAR_SECONDS", 16)
	faults := envInt(t, "LINEAR_FAULTS", max(2, seconds/10))
	seed := uint64(envInt(t, "LINEAR_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("LINEAR_SEED=%d", seed)

	h := newHarness(t)
	h.start()
	begin := time.Now()
	clock := func() int64 { return int64(time.Since(begin)) }
	w := &world{urlOf: map[int32]string{}, seen: map[int64]bool{}}
	newClient := func(n int) *client {
		return &client{n: n, base: "http://" + h.addr, token: h.token, http: newHTTP(),
			rng: rand.New(rand.NewPCG(seed, uint64(n))), w: w, clock: clock}
	}
	setup := newClient(clients)
	for i := range 3 {
		p, err := setup.createProduct(fmt.Sprintf("lin-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		w.products = append(w.products, p)
	}

	var g gate
	until := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for n := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(n)
			for g.enter(until) {
				c.one()
				g.leave()
			}
		}()
	}

	var spans []span
	injected := map[string]int{}
	// settle injects f among the calls (none at the end), then holds new
	// calls until what it left is settled: the calls in flight ended, f
	// mended, a janitor pass, serve ready. The service is then at rest, and
	// the invariants of the crash harness hold (nothing lost, nothing
	// deleted left public).
	settle := func(f *fault) {
		sp := span{start: clock()}
		what := "the end of the run"
		if f != nil {
			what = f.name
			if err := f.inject(h); err != nil {
				t.Fatalf("%s: %v", f.name, err)
			}
		}
		g.close()
		if err := g.drain(2 * time.Minute); err != nil {
			t.Fatal(err)
		}
		if f != nil {
			if err := f.mend(h); err != nil {
				t.Fatalf("mend %s: %v", f.name, err)
			}
		}
		if err := h.janitor(); err != nil {
			t.Fatalf("janitor pass after %s: %v", what, err)
		}
		if err := h.ready(time.Minute); err != nil {
			t.Fatal(err)
		}
		crashtest.CheckStore(t, h.pool, h.kit, nil, "after "+what+" and a janitor pass")
		sp.end = clock()
		spans = append(spans, sp)
		g.open()
	}
	for i := range faults {
		at := begin.Add(time.Duration(i+1) * time.Duration(seconds) * time.Second / time.Duration(faults+1))
		time.Sleep(time.Until(at))
		f := faultKinds[i%len(faultKinds)]
		settle(&f)
		injected[f.name]++
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(until) + 2*time.Minute):
		t.Fatal("the clients did not stop within 2 minutes of the end")
	}

	// At rest: one janitor pass, then every image read once more and the
	// whole trash listed, so that each image's last state is checked.
	settle(nil)
	w.mu.Lock()
	images := append([]known(nil), w.images...)
	w.mu.Unlock()
	for _, i := range images {
		setup.file(i)
		setup.catGet(i.id)
	}
	for _, p := range w.products {
		setup.productRead(cProduct, p)
	}
	if err := setup.wholeTrash(); err != nil {
		t.Fatal(err)
	}

	ops := history(w.calls, spans)
	byKind := map[string]int{}
	for _, op := range ops {
		byKind[op.Input.(Input).Kind.String()]++
	}
	t.Logf("%d calls (%s); %d operations on %d images checked (%v); faults: %v",
		len(w.calls), tally(w.calls), len(ops), len(images), byKind, injected)
	res, info := porcupine.CheckOperationsVerbose(Model, ops, 5*time.Minute)
	if res == porcupine.Unknown {
		t.Errorf("the checker ran out of its 5 minutes: too many calls of unknown outcome on one image?")
	}
	if res == porcupine.Illegal {
		dir := os.Getenv("LINEAR_OUTDIR")
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp("", "linearize-"); err != nil {
				t.Fatal(err)
			}
		}
		html := filepath.Join(dir, "history.html")
		if err := porcupine.VisualizePath(Model, info, html); err != nil {
			t.Errorf("visualize: %v", err)
		}
		_ = os.WriteFile(filepath.Join(dir, "serve.log"), []byte(h.logs.String()), 0o644)
		if b, err := json.Marshal(ops); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "history.json"), b, 0o644)
		}
		for _, text := range illegalImages(ops, 3) {
			t.Log(text)
		}
		t.Fatalf("the history is not linearizable (%s): see %s (open it in a browser) and serve's log beside it", res, html)
	}
}

// wholeTrash lists the whole trash, page by page, as one call: at rest,
// nothing changes between the pages.
func (c *client) wholeTrash() error {
	var all []seenEntry
	rec := call{kind: cTrash, complete: true, client: c.n, call: c.clock()}
	cursor := ""
	for {
		page := call{}
		next, ok := c.trashPage(cursor, 500, &page)
		if !ok {
			return fmt.Errorf("list the trash: %d", page.status)
		}
		all = append(all, page.trash...)
		if next == "" {
			break
		}
		cursor = next
	}
	rec.status, rec.trash, rec.ret = http.StatusOK, all, c.clock()
	c.w.record(rec)
	return nil
}

// tally counts the calls by kind and answer.
func tally(calls []call) string {
	n := map[string]int{}
	for _, c := range calls {
		n[c.kind+" "+strconv.Itoa(c.status)]++
	}
	var keys []string
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", k, n[k])
	}
	return b.String()
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a number", name, s)
	}
	return n
}

// gate holds the clients while a fault is settled: close stops new calls,
// drain waits for the calls in flight to end, open lets them go on.
type gate struct {
	mu       sync.Mutex
	closed   bool
	inflight int
}

// enter waits while the gate is closed; false once until has passed.
func (g *gate) enter(until time.Time) bool {
	for {
		g.mu.Lock()
		if time.Now().After(until) {
			g.mu.Unlock()
			return false
		}
		if !g.closed {
			g.inflight++
			g.mu.Unlock()
			return true
		}
		g.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

func (g *gate) leave() {
	g.mu.Lock()
	g.inflight--
	g.mu.Unlock()
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *gate) open() {
	g.mu.Lock()
	g.closed = false
	g.mu.Unlock()
}

func (g *gate) drain(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		g.mu.Lock()
		n := g.inflight
		g.mu.Unlock()
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d calls still in flight %s after a fault", n, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// illegalImages writes out, as text, the operations of up to n images whose
// history no order explains, in the order they began.
func illegalImages(ops []porcupine.Operation, n int) []string {
	var out []string
	for _, part := range Model.Partition(ops) {
		if len(out) == n {
			break
		}
		if porcupine.CheckOperations(Model, part) {
			continue
		}
		sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
		var b strings.Builder
		fmt.Fprintf(&b, "image %d, no order of its operations explains them:\n", part[0].Input.(Input).ID)
		for _, op := range part {
			fmt.Fprintf(&b, "  client %d  %9.3f s → %9.3f s  %s\n", op.ClientId, float64(op.Call)/1e9, float64(op.Return)/1e9,
				describe(op.Input.(Input), op.Output.(Output)))
		}
		out = append(out, b.String())
	}
	return out
}
