package soak

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/crashtest"
	"github.com/imagenes/imagenes/internal/dbtest"
)

const secret = "soak-secret-0123456789abcdef"

// clients is how many run the lifecycle at once (issue 15's operator run).
const clients = 8

// TestSoak runs the service and a standalone janitor under the product
// lifecycle for SOAK (default 25s), then checks that nothing was lost or
// leaked, that every janitor pass was ok or skipped, that neither log has a
// warning or an error, and that the server's RSS and open file descriptors
// stayed flat.
func TestSoak(t *testing.T) {
	d := 25 * time.Second
	if s := os.Getenv("SOAK"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 10*time.Second {
			t.Fatalf("SOAK=%q: want a duration of at least 10s (e.g. 3m)", s)
		}
	}
	s := newSoak(t)
	s.server = s.start("serve", "HTTP_ADDR="+s.addr, "JANITOR_ENABLED=true")
	s.waitReady("http://" + s.addr + "/readyz")
	s.janitor = s.start("janitor", "JANITOR_METRICS_ADDR="+s.janitorAddr)
	s.waitReady("http://" + s.janitorAddr + "/metrics")

	samples := make(chan []sample, 1)
	stopSampling := make(chan struct{})
	go func() { samples <- sampleProc(s.server.cmd.Process.Pid, s.root, stopSampling) }()

	until := time.Now().Add(d)
	results := make(chan clientResult, clients)
	for w := 0; w < clients; w++ {
		go func() { results <- s.client(w, until) }()
	}
	var total stats
	var kept []image
	for w := 0; w < clients; w++ {
		r := <-results // every client stops by itself at until
		total.add(r.stats)
		kept = append(kept, r.kept...)
		for _, err := range r.errs {
			t.Errorf("client %d: %v", w, err)
		}
	}
	t.Logf("%d lifecycles in %s by %d clients: %+v", total.Lifecycles, d, clients, total)

	// Every kept image is still served, with its bytes, by both routes.
	c := &http.Client{Timeout: 10 * time.Second}
	stored := map[string]bool{}
	for _, img := range kept {
		if err := s.served(c, img); err != nil {
			t.Errorf("kept image: %v", err)
		}
		stored[img.sum] = true
	}

	passes := map[string]float64{}
	for who, addr := range map[string]string{"serve": s.addr, "janitor": s.janitorAddr} {
		got, err := passOutcomes(c, "http://"+addr+"/metrics")
		if err != nil {
			t.Fatalf("%s metrics: %v", who, err)
		}
		t.Logf("janitor passes in %s: %v", who, got)
		for outcome, n := range got {
			passes[outcome] += n
		}
	}
	close(stopSampling)
	s.stop(s.janitor)
	s.stop(s.server)

	for _, outcome := range []string{"error", "refused"} {
		if passes[outcome] != 0 {
			t.Errorf("%v janitor passes ended %s, want none (see the logs below)", passes[outcome], outcome)
		}
	}
	if min := d.Seconds() / 2 / 2; passes["ok"] < min {
		t.Errorf("%v janitor passes ok in %s, want at least %v (one per 2s schedule, half lost to the other process)", passes["ok"], d, min)
	}
	did := map[string]int{}
	for _, p := range []*proc{s.server, s.janitor} {
		complaints, totals := p.readLog(t)
		for _, line := range complaints {
			t.Errorf("%s logged: %s", p.name, line)
		}
		for k, n := range totals {
			did[k] += n
		}
	}
	t.Logf("what the passes did, both processes: %v", did)
	// A minute is three retention periods: trash made in the first one is
	// purged by then, under any load.
	if d >= time.Minute && did["purged"] == 0 {
		t.Errorf("no pass purged anything in %s with TRASH_RETENTION=20s", d)
	}

	// A last pass finds nothing to mend, and the crash harness's
	// invariants hold: every row has its file, every file its row or entry.
	rep := s.finalPass()
	for _, k := range []string{"recovered", "adopted", "orphans", "dangling", "trash_missing", "in_flight", "staging"} {
		if rep[k] != 0 {
			t.Errorf("the last pass found %v %s, want none: %v", rep[k], k, rep)
		}
	}
	crashtest.CheckInvariants(t, s.pool, s.root, stored, "after the soak")

	flat(t, <-samples, d, s.root)
}

// soak is one run: the binary, its database and storage folder, and the two
// processes.
type soak struct {
	t           *testing.T
	bin         string
	pool        *pgxpool.Pool
	dbURL       string
	root        string
	logs        string
	addr        string
	janitorAddr string
	admin       string
	users       []string // one Cat user's token per client
	server      *proc
	janitor     *proc
}

func newSoak(t *testing.T) *soak {
	pool, dbURL := dbtest.New(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "imagenes")
	build := exec.Command("go", "build", "-o", bin, "../../app")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	s := &soak{t: t, bin: bin, pool: pool, dbURL: dbURL, root: filepath.Join(dir, "storage"), logs: dir,
		addr: freeAddr(t), janitorAddr: freeAddr(t)}
	s.admin = s.token("soak-admin", "--role", "admin")
	for w := 0; w < clients; w++ {
		s.users = append(s.users, s.token(fmt.Sprintf("soak-user-%d", w)))
	}
	return s
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// env is the operator's configuration of issue 15: the janitor every 2s,
// orphans after 5s, the trash purged after 20s.
func (s *soak) env(extra ...string) []string {
	return append([]string{
		"DATABASE_URL=" + s.dbURL, "STORAGE_DIR=" + s.root, "JWT_SECRET=" + secret, "LOG_LEVEL=info",
		"JANITOR_SCHEDULE=@every 2s", "JANITOR_ORPHAN_GRACE=5s", "TRASH_RETENTION=20s",
		"PATH=" + os.Getenv("PATH"),
	}, extra...)
}

func (s *soak) token(sub string, args ...string) string {
	cmd := exec.Command(s.bin, append([]string{"token", "--sub", sub, "--ttl", "2h"}, args...)...)
	cmd.Env = s.env()
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// proc is a running subcommand whose log goes to a file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	exit chan error
}

func (s *soak) start(sub string, extra ...string) *proc {
	s.t.Helper()
	p := &proc{name: sub, log: filepath.Join(s.logs, sub+".log"), exit: make(chan error, 1)}
	f, err := os.Create(p.log)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	p.cmd = exec.Command(s.bin, sub)
	p.cmd.Env = s.env(extra...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { p.exit <- p.cmd.Wait() }()
	s.t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exit
		}
	})
	return p
}

func (s *soak) waitReady(url string) {
	s.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
	}
	s.t.Fatalf("%s not ready after 15s", url)
}

// stop sends SIGTERM and waits: both commands finish what they are doing
// (requests, a running pass) and exit 0.
func (s *soak) stop(p *proc) {
	s.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-p.exit:
		if err != nil {
			s.t.Errorf("%s after SIGTERM: %v", p.name, err)
		}
	case <-time.After(20 * time.Second):
		// Shorter than serve's own shutdown grace (25s): SIGQUIT makes the
		// Go runtime write every goroutine's stack to the log, which says
		// what the stop is waiting for.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		<-p.exit
		s.t.Errorf("%s did not stop within 20s of SIGTERM; its goroutines on SIGQUIT:\n%s", p.name, p.tail(s.t, 64<<10))
	}
}

// tail returns the last n bytes of p's log.
func (p *proc) tail(t *testing.T, n int64) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// readLog returns the log lines at warn level or above — an ordinary
// interleaving of requests and passes must not make any (issue 15: no
// "stopped" pass, no "nowhere" warning) — and the sums of the counts of the
// "janitor pass" summary lines.
func (p *proc) readLog(t *testing.T) (complaints []string, totals map[string]int) {
	f, err := os.Open(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	totals = map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var entry struct {
			Level, Msg                          string
			Recovered, Purged, Orphans, Adopted int
			InFlight                            int `json:"in_flight"`
		}
		if json.Unmarshal(sc.Bytes(), &entry) != nil {
			continue // not a log line (a panic would show in the exit status)
		}
		if entry.Level != "info" && entry.Level != "debug" {
			complaints = append(complaints, sc.Text())
		}
		if entry.Msg == "janitor pass" {
			totals["passes"]++
			totals["recovered"] += entry.Recovered
			totals["purged"] += entry.Purged
			totals["orphans"] += entry.Orphans
			totals["adopted"] += entry.Adopted
			totals["in_flight"] += entry.InFlight
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", p.log, err)
	}
	return complaints, totals
}

// finalPass runs `janitor --once --json` with the soak's settings.
func (s *soak) finalPass() map[string]float64 {
	s.t.Helper()
	cmd := exec.Command(s.bin, "janitor", "--once", "--json")
	cmd.Env = s.env()
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("janitor --once: %v: %s", err, out)
	}
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		s.t.Fatalf("janitor --once report %q: %v", out, err)
	}
	if raw["refused"] != nil || raw["error"] != nil || raw["skipped"] == true {
		s.t.Fatalf("janitor --once: %s", out)
	}
	rep := map[string]float64{}
	for k, v := range raw {
		if n, ok := v.(float64); ok {
			rep[k] = n
		}
	}
	return rep
}

// image is an upload the test knows the bytes of.
type image struct {
	id    int
	url   string
	sum   string
	owner string // the Cat user's token for images uploaded through /api/image
}

type stats struct {
	Lifecycles, ProductDeletes, BalsamoaDeletes, CatDeletes, BalsamoaUploads, CatUploads, Restores, FilesChecked int
}

func (a *stats) add(b stats) {
	a.Lifecycles += b.Lifecycles
	a.ProductDeletes += b.ProductDeletes
	a.BalsamoaDeletes += b.BalsamoaDeletes
	a.CatDeletes += b.CatDeletes
	a.BalsamoaUploads += b.BalsamoaUploads
	a.CatUploads += b.CatUploads
	a.Restores += b.Restores
	a.FilesChecked += b.FilesChecked
}

type clientResult struct {
	stats
	kept []image // images this client left live
	errs []error
}

// client runs the lifecycle until until: upload two images (one through
// each family), attach both to a new product, replace the set with the
// first, restore the dropped one, check both are served; then delete the
// product, or (every other time) delete the first image through one family
// and keep the second.
func (s *soak) client(w int, until time.Time) (r clientResult) {
	c := &http.Client{Timeout: 10 * time.Second}
	for i := 0; time.Now().Before(until) && len(r.errs) < 5; i++ {
		if err := s.lifecycle(c, w, i, &r); err != nil {
			r.errs = append(r.errs, fmt.Errorf("lifecycle %d: %w", i, err))
		}
	}
	return r
}

func (s *soak) lifecycle(c *http.Client, w, i int, r *clientResult) error {
	cat := (w+i)%2 == 0 // which family uploads the first image
	a, err := s.upload(c, w, cat, &r.stats)
	if err != nil {
		return err
	}
	b, err := s.upload(c, w, !cat, &r.stats)
	if err != nil {
		return err
	}
	var created struct {
		Producto struct{ ID int } `json:"producto"`
	}
	body := fmt.Sprintf(`{"nombre":"soak %d-%d","precio":"9.90","imagenes":[{"url":%q,"orden":1},{"url":%q,"orden":2}]}`, w, i, a.url, b.url)
	if err := s.call(c, "POST", "/api/v1/admin/productos", s.admin, body, http.StatusCreated, &created); err != nil {
		return err
	}
	product := fmt.Sprintf("/api/v1/admin/productos/%d", created.Producto.ID)
	var replaced struct{ Papelera []int64 }
	if err := s.call(c, "PUT", product, s.admin, fmt.Sprintf(`{"imagenes":[{"url":%q,"orden":1}]}`, a.url), http.StatusOK, &replaced); err != nil {
		return err
	}
	if len(replaced.Papelera) != 1 {
		return fmt.Errorf("replace the set: %d trash entries, want 1", len(replaced.Papelera))
	}
	if err := s.call(c, "POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", replaced.Papelera[0]), s.admin, "", http.StatusOK, nil); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r.Restores++
	for _, img := range []image{a, b} {
		if err := s.served(c, img); err != nil {
			return fmt.Errorf("after the restore: %w", err)
		}
		r.FilesChecked++
	}
	if i%2 == 0 {
		var deleted struct{ Papelera []int64 }
		if err := s.call(c, "DELETE", product, s.admin, "", http.StatusOK, &deleted); err != nil {
			return err
		}
		if len(deleted.Papelera) != 2 {
			return fmt.Errorf("delete the product: %d trash entries, want 2", len(deleted.Papelera))
		}
		r.ProductDeletes++
		r.Lifecycles++
		return s.gone(c, a, b)
	}
	if (i/2+w)%2 == 0 {
		token := a.owner
		if token == "" {
			token = s.admin // an admin may delete anyone's image
		}
		if err := s.call(c, "DELETE", fmt.Sprintf("/api/image/%d", a.id), token, "", http.StatusNoContent, nil); err != nil {
			return err
		}
		r.CatDeletes++
	} else {
		if err := s.call(c, "DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", a.id), s.admin, "", http.StatusOK, nil); err != nil {
			return err
		}
		r.BalsamoaDeletes++
	}
	r.kept = append(r.kept, b)
	r.Lifecycles++
	return s.gone(c, a)
}

// upload stores 2 KiB of fresh PNG through Cat's /api/image (as client w's
// own user) or Balsamoa's subir (as admin).
func (s *soak) upload(c *http.Client, w int, cat bool, st *stats) (image, error) {
	content := make([]byte, 2048)
	copy(content, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	_, _ = rand.Read(content[16:])
	sum := sha256.Sum256(content)
	img := image{sum: hex.EncodeToString(sum[:])}
	field, path, token, want := "imagen", "/api/v1/admin/imagenes/subir", s.admin, http.StatusCreated
	if cat {
		field, path, token = "file", "/api/image", s.users[w]
		img.owner = token
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile(field, "soak.png")
	fw.Write(content)
	mw.Close()
	var out struct {
		ID  int
		URL string
	}
	if err := s.send(c, "POST", path, token, mw.FormDataContentType(), &buf, want, &out); err != nil {
		return img, err
	}
	img.id, img.url = out.ID, out.URL
	if !cat {
		st.BalsamoaUploads++
		return img, nil
	}
	st.CatUploads++
	// Cat's upload answers {id, filename}; its list gives the url.
	var list []struct {
		ID  int
		URL string
	}
	page := "/api/images?limit=1"
	if img.id > 1 {
		page += fmt.Sprintf("&after=%d", img.id-1) // after is a positive id
	}
	if err := s.call(c, "GET", page, token, "", http.StatusOK, &list); err != nil {
		return img, err
	}
	if len(list) != 1 || list[0].ID != img.id {
		return img, fmt.Errorf("GET %s: %+v, want image %d", page, list, img.id)
	}
	img.url = list[0].URL
	return img, nil
}

// served checks that img's file is served with its bytes at its url, and
// through Cat's GET /api/image/:id for its owner.
func (s *soak) served(c *http.Client, img image) error {
	paths := map[string]string{img.url: ""}
	if img.owner != "" {
		paths[fmt.Sprintf("/api/image/%d", img.id)] = img.owner
	}
	for path, token := range paths {
		var body []byte
		if err := s.call(c, "GET", path, token, "", http.StatusOK, &body); err != nil {
			return err
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != img.sum {
			return fmt.Errorf("GET %s: %d bytes that are not the upload's", path, len(body))
		}
	}
	return nil
}

// gone checks that deleted images are no longer served.
func (s *soak) gone(c *http.Client, imgs ...image) error {
	for _, img := range imgs {
		if err := s.call(c, "GET", img.url, "", "", http.StatusNotFound, nil); err != nil {
			return fmt.Errorf("deleted: %w", err)
		}
	}
	return nil
}

// call sends a JSON (or empty) request and wants status; out, when not nil,
// receives the JSON body (or the raw bytes, for a *[]byte).
func (s *soak) call(c *http.Client, method, path, token, body string, want int, out any) error {
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return s.send(c, method, path, token, ct, strings.NewReader(body), want, out)
}

func (s *soak) send(c *http.Client, method, path, token, contentType string, body io.Reader, want int, out any) error {
	req, err := http.NewRequest(method, "http://"+s.addr+path, body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: got %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	switch o := out.(type) {
	case nil:
	case *[]byte:
		*o = b
	default:
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w in %s", method, path, err, b)
		}
	}
	return nil
}
