package linearize

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/crashtest"
	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storagetest"
)

const secret = "linear-secret-0123456789abcdef"

// harness is the real binary on a PostgreSQL cluster of its own (this test
// restarts it, and other packages' tests share the test cluster) and a
// storage of its own.
type harness struct {
	t       *testing.T
	bin     string
	cluster string // localpg.sh's name of the cluster
	script  string // localpg.sh
	pool    *pgxpool.Pool
	dbURL   string
	kit     *storagetest.Kit
	storage []string // the storage's settings for the processes
	// proxy stands between serve and the bucket (nil on a folder); viaProxy
	// is serve's storage setting through it.
	proxy    *crashtest.DrainProxy
	viaProxy []string
	addr     string
	token    string

	server  *exec.Cmd
	exitErr chan error
	logs    *lockedWriter // every serve's stderr, in turn
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, logs: &lockedWriter{w: &bytes.Buffer{}}}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	h.script = filepath.Join(root, "scripts", "localpg.sh")
	h.cluster = fmt.Sprintf("lin-%d", os.Getpid())
	removeStale(t, root, h.script)
	out, err := exec.Command(h.script, "start", h.cluster, "--fast").Output()
	if err != nil {
		t.Fatalf("start the cluster %s: %v", h.cluster, err)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(h.script, "destroy", h.cluster).CombinedOutput(); err != nil {
			t.Errorf("destroy the cluster %s: %v\n%s", h.cluster, err, out)
		}
		os.Remove(filepath.Join(root, ".data", "pg-"+h.cluster+".lock"))
	})
	t.Setenv(dbtest.EnvURL, strings.TrimSpace(string(out)))
	h.pool, h.dbURL = dbtest.New(t)
	// --fast turns synchronous_commit off for the cluster: an immediate
	// stop would then lose commits already answered, a fault of the test
	// and not of the service. The database's own setting wins over the
	// command line's for every session on it.
	var name string
	if err := h.pool.QueryRow(context.Background(), `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pool.Exec(context.Background(), `ALTER DATABASE "`+name+`" SET synchronous_commit = on`); err != nil {
		t.Fatal(err)
	}
	h.pool.Reset()
	// One row from the start, as any real catalogue has, outside the
	// clients' reach: the janitor refuses to take orphans while the table
	// is empty and the storage is not (an upload cut by a fault leaves one),
	// which is right for a deployment but not what this run tests.
	if _, err := h.pool.Exec(context.Background(), `WITH p AS (INSERT INTO productos (nombre, precio) VALUES ('ancla', 1) RETURNING id)
		INSERT INTO producto_imagenes (producto_id, url, orden) SELECT id, 'https://example.com/ancla.png', 1 FROM p`); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	h.bin = filepath.Join(dir, "imagenes")
	build := exec.Command("go", "build", "-o", h.bin, "../../app")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	h.kit = storagetest.New(t, storagetest.KindFromEnv(t))
	h.storage = []string{"STORAGE_DIR=" + h.kit.Dir}
	if h.kit.Kind == storagetest.S3 {
		o := s3test.Server(t)
		bucketURL := func(endpoint string) string {
			return fmt.Sprintf("STORAGE_URL=s3://%s?endpoint=%s&path_style=true", h.kit.S3().Bucket(), endpoint)
		}
		h.storage = []string{bucketURL(o.Endpoint), "AWS_ACCESS_KEY_ID=" + o.AccessKey, "AWS_SECRET_ACCESS_KEY=" + o.SecretKey}
		// serve reaches the bucket through the crash harness's proxy: a
		// loaded MinIO carries out a killed server's requests late, and one
		// landing after the janitor's walk would look like the kill's doing.
		h.proxy = crashtest.NewDrainProxy(t, strings.TrimPrefix(o.Endpoint, "http://"))
		h.viaProxy = []string{bucketURL("http://" + h.proxy.Addr())}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	ln.Close()
	tok, err := h.run("token", "--sub", "lin-admin", "--role", "admin", "--ttl", "6h")
	if err != nil {
		t.Fatalf("token: %v %s", err, tok)
	}
	h.token = strings.TrimSpace(tok)
	t.Cleanup(h.kill)
	return h
}

// env is serve's and the janitor's: no janitor inside serve (the harness
// runs its passes at rest, with the clients held), no unattached step that
// would take the clients' images behind their back; orphans are taken at
// once, as at rest a live file without a row is one (an upload cut
// between its file and its commit).
func (h *harness) env() []string {
	return append([]string{
		"DATABASE_URL=" + h.dbURL, "HTTP_ADDR=" + h.addr, "JWT_SECRET=" + secret, "LOG_LEVEL=warn",
		"JANITOR_ENABLED=false", "JANITOR_UNATTACHED_TTL=0", "JANITOR_ORPHAN_GRACE=0s", "REQUEST_TIMEOUT=5s",
		"PATH=" + os.Getenv("PATH"),
	}, h.storage...)
}

func (h *harness) run(args ...string) (string, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

// start starts serve and waits until it is ready.
func (h *harness) start() {
	h.t.Helper()
	cmd := exec.Command(h.bin, "serve")
	cmd.Env = append(h.env(), h.viaProxy...)
	fmt.Fprintf(h.logs, "== serve started %s\n", time.Now().Format(time.RFC3339Nano))
	cmd.Stderr = h.logs
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.server, h.exitErr = cmd, make(chan error, 1)
	go func() { h.exitErr <- cmd.Wait() }()
	if err := h.ready(time.Minute); err != nil {
		h.t.Fatal(err)
	}
}

// ready waits until serve answers /readyz with 200 (database and storage
// usable).
func (h *harness) ready(limit time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		res, err := c.Get("http://" + h.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-h.exitErr:
			return fmt.Errorf("serve exited while starting: %v\n%s", err, h.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("serve not ready after %s", limit)
}

// kill SIGKILLs serve.
func (h *harness) kill() {
	if h.server != nil {
		_ = h.server.Process.Signal(syscall.SIGKILL)
		<-h.exitErr
		h.server = nil
	}
}

// settle waits, after serve was killed, until the bucket has finished
// every request serve sent. Nothing to wait for on a folder.
func (h *harness) settle() error {
	if h.proxy == nil {
		return nil
	}
	return h.proxy.Drain(time.Minute)
}

// stopPostgres stops the cluster as a crash would: every connection cut,
// no checkpoint, recovery at the next start.
func (h *harness) stopPostgres() error {
	if out, err := exec.Command(h.script, "stop", h.cluster, "--immediate").CombinedOutput(); err != nil {
		return fmt.Errorf("stop the cluster: %v\n%s", err, out)
	}
	return nil
}

func (h *harness) startPostgres() error {
	if out, err := exec.Command(h.script, "start", h.cluster, "--fast").CombinedOutput(); err != nil {
		return fmt.Errorf("start the cluster: %v\n%s", err, out)
	}
	return nil
}

// janitor runs one pass, which must neither refuse nor fail: it settles
// what a fault left (files of deletes that never committed go back).
func (h *harness) janitor() error {
	out, err := h.run("janitor", "--once", "--json")
	if err != nil {
		return fmt.Errorf("janitor --once: %v: %s", err, out)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return fmt.Errorf("janitor report %q: %v", out, err)
	}
	if rep["refused"] != nil || rep["error"] != nil {
		return fmt.Errorf("janitor report %s", out)
	}
	return nil
}

// lockedWriter lets serve's stderr and the harness's notes share a buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// removeStale destroys the clusters of earlier runs whose test process is
// gone without its cleanup (go test's timeout ends a run with a panic), so
// that none is left running.
func removeStale(t *testing.T, root, script string) {
	dirs, _ := filepath.Glob(filepath.Join(root, ".data", "pg-lin-*"))
	for _, d := range dirs {
		name := strings.TrimSuffix(filepath.Base(d), ".lock")[len("pg-"):]
		pid, err := strconv.Atoi(strings.TrimPrefix(name, "lin-"))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // that run is still going
		}
		if out, err := exec.Command(script, "destroy", name).CombinedOutput(); err != nil {
			t.Logf("destroy the stale cluster %s: %v\n%s", name, err, out)
		}
		os.Remove(filepath.Join(root, ".data", "pg-"+name+".lock"))
	}
}
