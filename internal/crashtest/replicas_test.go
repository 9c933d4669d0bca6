package crashtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/storagetest"
)

// TestReplicas: three serve processes and two standalone janitors (a pass
// every second each) on one database and one storage — a bucket, and one
// shared folder — under clients spread over the three replicas (uploads in
// both families, products made, replaced and deleted, image deletes in both
// families, restores). One replica is SIGKILLed mid-run and restarted. Then
// a last janitor pass, and the invariants: every row's file exists, every
// live file has a row, every trash file its entry and every entry its file,
// every upload that got its 201 is live or in the trash; and no two janitor
// passes held the pass lock at the same time. REPLICAS_SECONDS (default 4;
// `make replicas` runs 30) is how long the clients run; REPLICAS_LOGDIR, when
// set, receives every process's whole log when the run fails.
func TestReplicas(t *testing.T) {
	run := 4 * time.Second
	if s := os.Getenv("REPLICAS_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		if err != nil || d <= 0 {
			t.Fatalf("REPLICAS_SECONDS=%q: want a positive number", s)
		}
		run = d
	}
	for _, kind := range []string{storagetest.Disk, storagetest.S3} {
		t.Run(kind, func(t *testing.T) { replicas(t, kind, run) })
	}
}

// proc is one running process of the binary.
type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer // read only after done
	done   chan error
	addr   string
}

func (h *harness) spawn(addr string, args ...string) *proc {
	h.t.Helper()
	cmd := exec.Command(h.bin, args...)
	// The grace must outlast an upload: staged files younger than it are
	// uploads in flight in another replica (the harness's 0s is for passes
	// run with every server stopped, like the last one here).
	cmd.Env = h.env("HTTP_ADDR="+addr, "JANITOR_SCHEDULE=@every 1s", "LOG_LEVEL=info", "JANITOR_ORPHAN_GRACE=30s")
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1), addr: addr}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	return p
}

// ready waits for a serve's /readyz.
func (h *harness) ready(p *proc) {
	h.t.Helper()
	for i := 0; i < 400; i++ {
		if res, err := http.Get("http://" + p.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-p.done:
			h.t.Fatalf("serve on %s exited while starting: %v\n%s", p.addr, err, p.stderr)
		case <-time.After(25 * time.Millisecond):
		}
	}
	h.t.Fatalf("serve on %s not ready after 10s", p.addr)
}

// stop ends p with sig and waits (10s, then SIGKILL).
func (p *proc) stop(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func replicas(t *testing.T, kind string, run time.Duration) {
	h := newHarnessOn(t, kind)
	// serve writes the marker; the janitors refuse to start without it.
	servers := make([]*proc, 3)
	for i := range servers {
		servers[i] = h.spawn(freePort(t), "serve")
		h.ready(servers[i])
	}
	janitors := []*proc{h.spawn(freePort(t), "janitor"), h.spawn(freePort(t), "janitor")}
	t.Cleanup(func() {
		for _, p := range append(servers, janitors...) {
			if p.cmd.ProcessState == nil {
				p.stop(syscall.SIGKILL)
			}
		}
	})

	var mu sync.Mutex // guards servers[0] while it is replaced
	addrOf := func(i int) string {
		mu.Lock()
		defer mu.Unlock()
		return servers[i].addr
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ops := make([]map[string]int, 6)
	for w := range ops {
		ops[w] = map[string]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.replicaClient(stop, w, addrOf, ops[w])
		}()
	}
	// One replica dies mid-run, SIGKILL, and comes back on its address.
	time.Sleep(run * 35 / 100)
	killed := servers[0]
	killed.stop(syscall.SIGKILL)
	time.Sleep(run * 20 / 100)
	mu.Lock()
	servers[0] = h.spawn(servers[0].addr, "serve")
	mu.Unlock()
	h.ready(servers[0])
	time.Sleep(run * 45 / 100)
	close(stop)
	wg.Wait()

	for _, p := range janitors {
		p.stop(syscall.SIGTERM) // waits for a running pass
	}
	for _, p := range servers {
		p.stop(syscall.SIGTERM)
	}
	if dir := os.Getenv("REPLICAS_LOGDIR"); dir != "" && t.Failed() {
		// Every line, info included (who moved which file), for a failure
		// hunted in a loop.
		for i, p := range append(append([]*proc{killed}, servers...), janitors...) {
			name := filepath.Join(dir, fmt.Sprintf("%s-%d-%s-%s.log", kind, i, p.cmd.Args[1], strings.ReplaceAll(p.addr, ":", "_")))
			if err := os.WriteFile(name, p.stderr.Bytes(), 0o644); err != nil {
				t.Logf("REPLICAS_LOGDIR: %v", err)
			}
		}
	}
	if t.Failed() {
		// What the processes said about the failure: their errors and warnings.
		for _, p := range append(append([]*proc{killed}, servers...), janitors...) {
			for _, line := range strings.Split(p.stderr.String(), "\n") {
				if strings.Contains(line, `"level":"error"`) || strings.Contains(line, `"level":"warn"`) {
					t.Logf("%s %s: %s", p.cmd.Args[1], p.addr, line)
				}
			}
		}
	}
	spans := passSpans(t, janitors)
	if err := h.janitor("", "168h"); err != nil {
		t.Fatalf("last janitor pass: %v", err)
	}
	h.checkInvariants("after the replicas")

	total := map[string]int{}
	for _, m := range ops {
		for k, n := range m {
			total[k] += n
		}
	}
	var done []string
	for k, n := range total {
		done = append(done, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(done)
	t.Logf("%s: %s; %d janitor passes in %s; %d uploads tracked by hash", kind, strings.Join(done, ", "), len(spans), run, len(h.stored))
	if total["upload"] == 0 || total["delete"] == 0 || total["restore"] == 0 || total["product"] == 0 {
		t.Errorf("the clients did too little to show anything: %v", total)
	}
}

// replicaClient runs random operations, each on a replica chosen at random,
// until stop closes. A connection refused or cut is the killed replica: the
// operation is dropped. Any 5xx is a failure.
func (h *harness) replicaClient(stop <-chan struct{}, w int, addrOf func(int) string, ops map[string]int) {
	c := &http.Client{Timeout: 10 * time.Second}
	var mine []string // urls of uploads not yet given to a product
	var products []int
	for {
		select {
		case <-stop:
			return
		default:
		}
		addr := addrOf(rand.IntN(3))
		var err error
		op := ""
		switch n := rand.IntN(12); {
		case n < 3:
			op = "upload"
			var url string
			if url, err = h.uploadAt(c, addr, "/api/v1/admin/imagenes/subir", "imagen"); err == nil {
				mine = append(mine, url)
			}
		case n < 4:
			op = "upload"
			_, err = h.uploadAt(c, addr, "/api/image", "file")
		case n < 6 && len(mine) > 0:
			op = "product"
			k := min(len(mine), 1+rand.IntN(3))
			var id int
			if id, err = h.createProductAt(c, addr, mine[len(mine)-k:]); err == nil {
				products = append(products, id)
			}
			mine = mine[:len(mine)-k]
		case n < 7 && len(products) > 0:
			op = "replace"
			set := "[]"
			if len(mine) > 0 {
				set = fmt.Sprintf(`[{"url":%q,"orden":1}]`, mine[len(mine)-1])
				mine = mine[:len(mine)-1]
			}
			err = h.callAt(c, addr, "PUT", fmt.Sprintf("/api/v1/admin/productos/%d", products[rand.IntN(len(products))]), `{"imagenes":`+set+`}`, nil)
		case n < 8:
			op = "delete"
			err = h.callAt(c, addr, "DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", h.someID()), "", nil)
		case n < 9:
			op = "delete"
			err = h.callAt(c, addr, "DELETE", fmt.Sprintf("/api/image/%d", h.someID()), "", nil)
		case n < 11:
			op = "restore"
			var page struct {
				Papelera []struct{ ID int } `json:"papelera"`
			}
			if err = h.callAt(c, addr, "GET", "/api/v1/admin/papelera?limite=10", "", &page); err == nil && len(page.Papelera) > 0 {
				err = h.callAt(c, addr, "POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", page.Papelera[rand.IntN(len(page.Papelera))].ID), "", nil)
			}
		case len(products) > 0:
			op = "product delete"
			k := rand.IntN(len(products))
			err = h.callAt(c, addr, "DELETE", fmt.Sprintf("/api/v1/admin/productos/%d", products[k]), "", nil)
			products = append(products[:k], products[k+1:]...)
		default:
			continue
		}
		switch {
		case err == errServerGone:
			ops["dropped (replica down)"]++
		case err != nil:
			h.t.Errorf("client %d: %s: %v", w, op, err)
			return
		default:
			ops[op]++
		}
	}
}

// span is the time one janitor process held the pass lock.
type span struct {
	from, to time.Time
	who      int
}

// passSpans reads the janitors' "janitor pass" lines and fails the test
// when two passes held the pass lock at once: each line is written before
// the lock is released and carries when it was taken, so with a lock that
// works the spans follow one another. It also fails when no pass ran.
func passSpans(t *testing.T, janitors []*proc) []span {
	const layout = "2006-01-02T15:04:05.000Z0700"
	var spans []span
	for i, p := range janitors {
		sc := bufio.NewScanner(bytes.NewReader(p.stderr.Bytes()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg      string `json:"msg"`
				TS       string `json:"ts"`
				LockedAt string `json:"locked_at"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || !strings.HasPrefix(line.Msg, "janitor pass") || line.LockedAt == "" {
				continue
			}
			from, err1 := time.Parse(layout, line.LockedAt)
			to, err2 := time.Parse(layout, line.TS)
			if err1 != nil || err2 != nil {
				t.Fatalf("janitor %d: times in %s: %v %v", i, sc.Text(), err1, err2)
			}
			spans = append(spans, span{from, to, i})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	for k := 1; k < len(spans); k++ {
		if spans[k].from.Before(spans[k-1].to) {
			t.Errorf("janitor %d took the pass lock at %s while janitor %d held it until %s",
				spans[k].who, spans[k].from.Format(layout), spans[k-1].who, spans[k-1].to.Format(layout))
		}
	}
	if len(spans) < 2 {
		t.Errorf("%d janitor passes ran; want at least 2 to compare", len(spans))
	}
	return spans
}
