package crashtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

const secret = "crash-secret-0123456789abcdef"

// harness is one crash run: a binary, a database, a storage (a folder, or a
// bucket under IMAGENES_TEST_STORAGE=s3: `make crash BACKEND=s3`), and the
// images it knows were stored.
type harness struct {
	t       *testing.T
	bin     string
	pool    *pgxpool.Pool
	dbURL   string
	kit     *storagetest.Kit
	storage []string // the storage's settings for the processes
	// proxy stands between serve and the bucket (nil on a folder): after a
	// kill the harness drains it before the janitor runs (see drainProxy).
	proxy    *drainProxy
	viaProxy []string      // serve's storage settings, through proxy
	drained  time.Duration // the longest settle
	addr     string
	token    string
	mu       sync.Mutex
	stored   map[string]bool // sha256 of every upload that got its 201
	counts   map[string]int  // crash points survived, by kind
	// unavailable makes a 503 an accepted answer to the load: serve's
	// truthful answer when a storage request's outcome is unknown (a
	// lost answer, a hang past REQUEST_TIMEOUT).
	unavailable             atomic.Bool
	server                  *exec.Cmd
	stderr                  *bytes.Buffer
	exitErr                 chan error
	lastJanitor, lastStderr string
}

// TestCrashHarness: CRASH_POINTS crashes (default 6 in `make test`, 500 in
// `make crash`), each followed by a restart, a janitor pass and the
// invariants of nothing lost, nothing leaked.
func TestCrashHarness(t *testing.T) {
	points := 6
	if s := os.Getenv("CRASH_POINTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CRASH_POINTS=%q: want a positive number", s)
		}
		points = n
	}
	h := newHarness(t)
	for i := 0; i < points; i++ {
		kind := h.cycle(i)
		h.counts[kind]++
		if err := h.janitor("", "168h"); err != nil {
			t.Fatalf("crash %d (%s): janitor --once after the crash: %v", i, kind, err)
		}
		h.checkInvariants(fmt.Sprintf("crash %d (%s)", i, kind))
		if testing.Verbose() || (i+1)%50 == 0 {
			t.Logf("crash %d/%d survived (%s); %d images stored so far", i+1, points, kind, len(h.stored))
		}
	}
	var kinds []string
	for k, n := range h.counts {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	t.Logf("survived %d crash points: %s; %d uploads tracked by hash", points, strings.Join(kinds, ", "), len(h.stored))
	if h.proxy != nil {
		t.Logf("storage requests in flight at the kills, finished or dropped by MinIO before the janitor ran: %d; longest wait for them %s",
			h.proxy.cuts(), h.drained.Round(time.Millisecond))
		t.Logf("storage answers lost or sent late by the proxy: %d", h.proxy.faultsDone())
	}
}

func newHarness(t *testing.T) *harness { return newHarnessOn(t, storagetest.KindFromEnv(t)) }

// newHarnessOn is newHarness on a storage of kind.
func newHarnessOn(t *testing.T, kind string) *harness {
	pool, dbURL := dbtest.New(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "imagenes-faults")
	build := exec.Command("go", "build", "-tags", "faults", "-o", bin, "../../app")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build with -tags faults: %v\n%s", err, out)
	}
	kit := storagetest.New(t, kind)
	settings := []string{"STORAGE_DIR=" + kit.Dir}
	var proxy *drainProxy
	var viaProxy []string
	if kit.Kind == storagetest.S3 {
		o := s3test.Server(t)
		bucketURL := func(endpoint string) string {
			return fmt.Sprintf("STORAGE_URL=s3://%s?endpoint=%s&path_style=true", kit.S3().Bucket(), endpoint)
		}
		settings = []string{bucketURL(o.Endpoint), "AWS_ACCESS_KEY_ID=" + o.AccessKey, "AWS_SECRET_ACCESS_KEY=" + o.SecretKey}
		proxy = newDrainProxy(t, strings.TrimPrefix(o.Endpoint, "http://"))
		viaProxy = []string{bucketURL("http://" + proxy.Addr())}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := &harness{t: t, bin: bin, pool: pool, dbURL: dbURL, kit: kit, storage: settings, proxy: proxy, viaProxy: viaProxy, addr: addr,
		stored: map[string]bool{}, counts: map[string]int{}}
	out, err := h.run(nil, "token", "--sub", "crash-admin", "--role", "admin")
	if err != nil {
		t.Fatalf("token: %v %s", err, out)
	}
	h.token = strings.TrimSpace(out)
	// One row from the start, as any real catalogue has: a crash during the
	// very first upload (file live, row not committed) would otherwise meet
	// the janitor's fail-closed refusal of an empty table next to a full
	// folder, which is right for a real deployment but not what this
	// harness tests. External, so it owns no file; attached to a product of
	// its own, so the janitor's unattached step (TTL 0 here) never takes it,
	// and left out of the load's deletes (someID), so nothing empties the
	// table behind the harness's back (a flake seen on S3).
	if _, err := pool.Exec(context.Background(), `WITH p AS (INSERT INTO productos (nombre, precio) VALUES ('ancla', 1) RETURNING id)
		INSERT INTO producto_imagenes (producto_id, url, orden) SELECT id, $1, 1 FROM p`, anchorURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) env(extra ...string) []string {
	return append([]string{
		"DATABASE_URL=" + h.dbURL, "HTTP_ADDR=" + h.addr, "JWT_SECRET=" + secret,
		"LOG_LEVEL=warn", "JANITOR_ORPHAN_GRACE=0s", "JANITOR_UNATTACHED_TTL=0", "JANITOR_MAX_ORPHANS=100000",
		"PATH=" + os.Getenv("PATH"),
	}, append(append([]string(nil), h.storage...), extra...)...)
}

// run runs a subcommand to completion.
func (h *harness) run(extra []string, args ...string) (string, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env(extra...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	h.lastStderr = errOut.String()
	if err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

// start starts serve with the fault probabilities given and waits until
// it is ready.
func (h *harness) start(faults string, extra ...string) {
	h.t.Helper()
	cmd := exec.Command(h.bin, "serve")
	cmd.Env = h.env(append(append([]string{"IMAGENES_FAULTS=" + faults}, h.viaProxy...), extra...)...)
	h.stderr = &bytes.Buffer{}
	cmd.Stderr = h.stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.server, h.exitErr = cmd, make(chan error, 1)
	go func() { h.exitErr <- cmd.Wait() }()
	for i := 0; i < 200; i++ {
		res, err := http.Get("http://" + h.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-h.exitErr:
			h.t.Fatalf("serve exited while starting: %v\n%s", err, h.stderr)
		case <-time.After(25 * time.Millisecond):
		}
	}
	h.t.Fatalf("serve not ready after 5s\n%s", h.stderr)
}

func (h *harness) stop() {
	if h.server != nil && h.server.ProcessState == nil {
		_ = h.server.Process.Kill()
		<-h.exitErr
	}
	h.server = nil
}

// cycle runs one crash: a server under load killed by a fault point or at a
// random moment, or (every fourth cycle) a janitor pass killed inside a
// purge or an orphan move. It returns the kind of crash.
func (h *harness) cycle(i int) string {
	if i%4 == 3 {
		return h.janitorCrash(h.proxy != nil && (i/4)%2 == 1)
	}
	if i%4 == 2 && h.proxy != nil && (i/4)%4 != 3 {
		return h.answerFaultCrash(i / 4)
	}
	faults := "after-move=0.02,after-commit=0.02,upload=0.02,delete-batch=0.3,moving=0.01"
	if h.kit.Kind == storagetest.S3 {
		// Between an upload's PUT and its commit; and, in one cycle of
		// four, between a move's copy and its delete (deletes, restores,
		// product writes and their undos all move by copy then delete).
		faults += ",upload-put=0.05,move-copied=0.02"
		if i%4 == 1 {
			faults = "move-copied=0.3"
		}
	}
	if i%4 == 2 {
		faults = "" // a random SIGKILL from outside
	}
	h.start(faults)
	deadline := time.Now().Add(time.Duration(150+mrand.IntN(600)) * time.Millisecond)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.load(stop)
		}()
	}
	kind := "random SIGKILL"
	select {
	case <-h.exitErr:
		kind = faultName(h.stderr.String())
	case <-time.After(time.Until(deadline)):
		_ = h.server.Process.Signal(syscall.SIGKILL)
		<-h.exitErr
	}
	close(stop)
	wg.Wait()
	h.server = nil
	h.settle()
	return kind
}

// settle waits, after serve died, until the storage has finished every
// request serve sent (drainProxy): the state the janitor then meets is the
// crash's. Nothing to wait for on a folder.
func (h *harness) settle() {
	if h.proxy != nil {
		start := time.Now()
		if err := h.proxy.drain(time.Minute); err != nil {
			h.t.Fatal(err)
		}
		h.drained = max(h.drained, time.Since(start))
	}
}

func faultName(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if name, ok := strings.CutPrefix(line, "fault: SIGKILL at "); ok {
			return name
		}
	}
	return "died without a fault line"
}

// janitorCrash makes orphans and old trash, then runs janitor --once with
// the purge and orphan-move points armed (short retention), and finishes
// the interrupted work with a clean pass of the same retention. The images
// in the trash may be purged by it, so they leave the "must exist" set.
// With loseOne (on the bucket) the armed pass reaches MinIO through the
// proxy, which drops the answer of one of its requests that change the
// bucket (an orphan's copy or delete, a purge's delete), picked at random.
func (h *harness) janitorCrash(loseOne bool) string {
	h.t.Helper()
	for i := 0; i < 3; i++ { // orphans: files nobody recorded
		h.kit.Put(h.t, storage.NewImageURL("png")[1:], pngContent(), 0)
	}
	for sum := range HashesOf(h.t, h.kit, ".papelera/") {
		delete(h.stored, sum)
	}
	time.Sleep(1100 * time.Millisecond) // the trash is now older than the 1s retention
	armed := []string{"IMAGENES_FAULTS=janitor-purge=0.5,janitor-orphan=0.5", "TRASH_RETENTION=1s"}
	if loseOne {
		h.proxy.armFault(loseAnswer, "", mrand.IntN(3), 0)
		armed = append(armed, h.viaProxy...)
	}
	out, err := h.run(armed, "janitor", "--once")
	kind := "janitor finished"
	if err != nil {
		kind = "janitor " + faultName(out)
	}
	if loseOne {
		h.settle()
		if what, done := h.proxy.disarm(); done {
			then := strings.TrimPrefix(kind, "janitor ")
			if then == "died without a fault line" {
				then = "the pass failed" // the lost answer is an error; the next pass is the retry
			}
			kind = "janitor: lost answer of a " + what + ", " + then
		}
	}
	if err := h.janitor("", "1s"); err != nil {
		h.t.Fatalf("clean janitor pass after %s: %v", kind, err)
	}
	return kind
}

// janitor runs one clean pass; it must not refuse or fail.
func (h *harness) janitor(faults, retention string) error {
	out, err := h.run([]string{"IMAGENES_FAULTS=" + faults, "TRASH_RETENTION=" + retention, "LOG_LEVEL=info"}, "janitor", "--once", "--json", "--verbose")
	h.lastJanitor = out + h.lastStderr
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return fmt.Errorf("report %q: %v", out, err)
	}
	if rep["refused"] != nil || rep["error"] != nil {
		return fmt.Errorf("report %s", out)
	}
	return nil
}

// load runs random operations until the server dies or stop closes.
func (h *harness) load(stop <-chan struct{}) {
	c := &http.Client{Timeout: 5 * time.Second}
	var mine []string // urls this worker uploaded
	var products []int
	for {
		select {
		case <-stop:
			return
		default:
		}
		var err error
		switch op := mrand.IntN(10); {
		case op < 4:
			var url string
			if url, err = h.upload(c); err == nil {
				mine = append(mine, url)
			}
		case op < 6 && len(mine) > 0:
			n := min(len(mine), 1+mrand.IntN(3))
			var id int
			if id, err = h.createProduct(c, mine[len(mine)-n:]); err == nil {
				products = append(products, id)
			}
			mine = mine[:len(mine)-n]
		case op < 7 && len(products) > 0:
			err = h.call(c, "PUT", fmt.Sprintf("/api/v1/admin/productos/%d", products[mrand.IntN(len(products))]),
				`{"imagenes":[]}`, nil)
		case op < 8 && mrand.IntN(3) == 0:
			// The bulk route: its files move several at once, and a kill
			// may land among those moves.
			err = h.call(c, "POST", "/api/v1/admin/imagenes/eliminar", fmt.Sprintf(`{"ids":[%s]}`, h.someIDs(12)), nil)
		case op < 8:
			err = h.call(c, "DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", h.someID()), "", nil)
		case op < 9:
			var page struct {
				Papelera []struct{ ID int } `json:"papelera"`
			}
			if err = h.call(c, "GET", "/api/v1/admin/papelera?limite=5", "", &page); err == nil && len(page.Papelera) > 0 {
				err = h.call(c, "POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", page.Papelera[mrand.IntN(len(page.Papelera))].ID), "", nil)
			}
		case len(products) > 0:
			k := mrand.IntN(len(products))
			err = h.call(c, "DELETE", fmt.Sprintf("/api/v1/admin/productos/%d", products[k]), "", nil)
			products = append(products[:k], products[k+1:]...)
		}
		if errors.Is(err, errServerGone) {
			return
		}
		if errors.Is(err, errUnavailable) {
			continue
		}
		if err != nil {
			h.t.Errorf("load: %v", err)
			return
		}
	}
}

var (
	errServerGone  = errors.New("server gone")
	errUnavailable = errors.New("503 while a storage answer is lost or late")
)

// anchorURL is the external image row the harness starts with (see newHarness).
const anchorURL = "https://cdn.example.test/ancla.png"

// someID is the id of an existing image other than the anchor, so most
// deletes delete something.
func (h *harness) someID() int {
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT COALESCE((SELECT id FROM producto_imagenes WHERE url <> $1 ORDER BY random() LIMIT 1), 2147483647)`, anchorURL).Scan(&n); err != nil {
		return 2147483647
	}
	return n
}

// someIDs is up to n ids of existing images other than the anchor, joined
// by commas ("2147483647" when there is none).
func (h *harness) someIDs(n int) string {
	var ids string
	if err := h.pool.QueryRow(context.Background(), `SELECT COALESCE(string_agg(id::text, ','), '2147483647') FROM (
  SELECT id FROM producto_imagenes WHERE url <> $1 ORDER BY random() LIMIT $2) s`, anchorURL, n).Scan(&ids); err != nil {
		return "2147483647"
	}
	return ids
}

// call sends one request. A broken connection means the server died: that
// is the point. A 5xx is a failure of the harness's claim, except a 503
// (the pool losing connections while PostgreSQL terminates a dead
// server's backends is not our case; we never see it, and it would say so).
func (h *harness) call(c *http.Client, method, path, body string, out any) error {
	return h.callAt(c, h.addr, method, path, body, out)
}

// callAt is call on the server at addr.
func (h *harness) callAt(c *http.Client, addr, method, path, body string, out any) error {
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return errServerGone
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return errServerGone
	}
	if res.StatusCode == http.StatusServiceUnavailable && h.unavailable.Load() {
		return errUnavailable
	}
	if res.StatusCode >= 500 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil && res.StatusCode < 300 {
		return json.Unmarshal(b, out)
	}
	return nil
}

func pngContent() []byte {
	b := make([]byte, 256)
	copy(b, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	_, _ = rand.Read(b[16:])
	return b
}

// upload stores a unique image and records its hash once the 201 arrived.
func (h *harness) upload(c *http.Client) (string, error) {
	return h.uploadAt(c, h.addr, "/api/v1/admin/imagenes/subir", "imagen")
}

// uploadAt uploads through the route path of either family (field is its
// form field) on the server at addr; the answer is Balsamoa's {url} or the
// Cat API's {id}, returned as the url or the id in text.
func (h *harness) uploadAt(c *http.Client, addr, path, field string) (string, error) {
	content := pngContent()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile(field, "crash.png")
	fw.Write(content)
	w.Close()
	req, _ := http.NewRequest("POST", "http://"+addr+path, &buf)
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := c.Do(req)
	if err != nil {
		return "", errServerGone
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", errServerGone
	}
	if res.StatusCode == http.StatusServiceUnavailable && h.unavailable.Load() {
		return "", errUnavailable
	}
	if res.StatusCode != 201 {
		return "", fmt.Errorf("upload: %d %s", res.StatusCode, b)
	}
	var m struct {
		URL string
		ID  int
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	sum := sha256.Sum256(content)
	h.mu.Lock()
	h.stored[hex.EncodeToString(sum[:])] = true
	h.mu.Unlock()
	if m.URL == "" {
		return strconv.Itoa(m.ID), nil
	}
	return m.URL, nil
}

func (h *harness) createProduct(c *http.Client, urls []string) (int, error) {
	return h.createProductAt(c, h.addr, urls)
}

func (h *harness) createProductAt(c *http.Client, addr string, urls []string) (int, error) {
	var set []map[string]any
	for i, u := range urls {
		set = append(set, map[string]any{"url": u, "orden": i + 1})
	}
	body, _ := json.Marshal(map[string]any{"nombre": "crash", "precio": 1, "imagenes": set})
	var out struct {
		Producto struct{ ID int } `json:"producto"`
	}
	if err := h.callAt(c, addr, "POST", "/api/v1/admin/productos", string(body), &out); err != nil {
		return 0, err
	}
	return out.Producto.ID, nil
}

// checkInvariants checks CheckStore against the uploads tracked so far
// and stops the harness at the first crash that broke one.
func (h *harness) checkInvariants(when string) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	CheckStore(h.t, h.pool, h.kit, h.stored, when)
	if h.t.Failed() {
		// What the pass did and what it logged (at info), and serve's log:
		// the cause of a broken invariant is in one of them.
		h.t.Logf("the janitor pass after the crash:\n%s", h.lastJanitor)
		if h.stderr != nil {
			h.t.Logf("serve's log:\n%s", h.stderr)
		}
		h.t.FailNow()
	}
}
