package failover

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

const secret = "failover-secret-0123456789abcdef"

// bin is the binary the tests run, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imagenes-failover-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "imagenes")
	build := exec.Command("go", "build", "-o", bin, "../../app")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// localpg runs scripts/localpg.sh with args and returns its stdout.
func localpg(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("../../scripts/localpg.sh", args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("localpg.sh %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// pair is a primary (NAME-primary) and its streaming standby
// (NAME-standby), destroyed when the test ends.
type pair struct {
	t    testing.TB
	name string
	url  string // both hosts, target_session_attrs=read-write
}

func startPair(t testing.TB) *pair {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	p := &pair{t: t, name: "failover-" + hex.EncodeToString(b)}
	t.Cleanup(func() { localpg(t, "destroy-pair", p.name) })
	p.url = localpg(t, "start-pair", p.name)
	return p
}

// host is the URL of one of the pair's servers alone (0: the primary, 1:
// the standby), for what a test reads from one side.
func (p *pair) host(i int) string {
	u, err := url.Parse(p.url)
	if err != nil {
		p.t.Fatal(err)
	}
	u.Host = strings.Split(u.Host, ",")[i]
	q := u.Query()
	q.Del("target_session_attrs")
	u.RawQuery = q.Encode()
	return u.String()
}

// pool opens a pool on the pair's URL: after a promotion it reaches the
// new primary, as serve does.
func (p *pair) pool() *pgxpool.Pool {
	p.t.Helper()
	pool, err := pgxpool.New(context.Background(), p.url)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(pool.Close)
	return pool
}

// failOver SIGKILLs the primary and promotes the standby.
func (p *pair) failOver() {
	p.t.Helper()
	localpg(p.t, "kill", p.name+"-primary")
	localpg(p.t, "promote", p.name+"-standby")
}

// waitReplayed waits until the standby has replayed everything the primary
// has written so far.
func (p *pair) waitReplayed() {
	p.t.Helper()
	ctx := context.Background()
	var target string
	primary, err := pgxpool.New(ctx, p.host(0))
	if err != nil {
		p.t.Fatal(err)
	}
	defer primary.Close()
	if err := primary.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&target); err != nil {
		p.t.Fatal(err)
	}
	standby, err := pgxpool.New(ctx, p.host(1))
	if err != nil {
		p.t.Fatal(err)
	}
	defer standby.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		var done bool
		err := standby.QueryRow(ctx, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, target).Scan(&done)
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the standby has not replayed up to %s after a minute (%v)", target, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// server is one serve process of the binary on the pair.
type server struct {
	t      testing.TB
	db     string
	dir    string // STORAGE_DIR
	addr   string
	token  string
	extra  []string
	cmd    *exec.Cmd
	stderr *bytes.Buffer // read only after done
	done   chan error
}

// newServer migrates the pair's database, makes an admin token and a
// storage folder, and adds the anchor row (see anchorURL).
func newServer(t testing.TB, db string, extra ...string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &server{t: t, db: db, dir: t.TempDir(), addr: addr, extra: extra}
	if out, err := s.run(nil, "migrate", "up"); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	out, err := s.run(nil, "token", "--sub", "failover-admin", "--role", "admin")
	if err != nil {
		t.Fatalf("token: %v\n%s", err, out)
	}
	s.token = strings.TrimSpace(out)
	// One row from the start, as any real catalogue has: the janitor
	// refuses to move orphans next to an empty table (a wrong database).
	// External, so it owns no file; on a product of its own.
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `WITH p AS (INSERT INTO productos (nombre, precio) VALUES ('ancla', 1) RETURNING id)
		INSERT INTO producto_imagenes (producto_id, url, orden) SELECT id, $1, 1 FROM p`, anchorURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(syscall.SIGKILL) })
	return s
}

// anchorURL is the external image row every run starts with.
const anchorURL = "https://cdn.example.test/ancla.png"

func (s *server) env(extra ...string) []string {
	return append([]string{
		"DATABASE_URL=" + s.db, "HTTP_ADDR=" + s.addr, "JWT_SECRET=" + secret, "STORAGE_DIR=" + s.dir,
		"LOG_LEVEL=warn", "JANITOR_ORPHAN_GRACE=0s", "JANITOR_UNATTACHED_TTL=0", "JANITOR_MAX_ORPHANS=100000",
		"PATH=" + os.Getenv("PATH"),
	}, append(append([]string(nil), s.extra...), extra...)...)
}

// run runs a subcommand to completion: its stdout, or its stdout and
// stderr with the error.
func (s *server) run(extra []string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = s.env(extra...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

// start starts serve and waits (a minute at most) until it is ready.
func (s *server) start(extra ...string) {
	s.t.Helper()
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = s.env(extra...)
	s.stderr = &bytes.Buffer{}
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if res, err := http.Get("http://" + s.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-s.done:
			s.t.Fatalf("serve exited while starting: %v\n%s", err, s.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.t.Fatalf("serve not ready after a minute\n%s", s.stderr)
}

// stop ends serve with sig and waits (30 s, then SIGKILL).
func (s *server) stop(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// janitor runs one `janitor --once` pass (nothing else running) and
// returns its report; a refused or failed pass fails the test.
func (s *server) janitor() map[string]any {
	s.t.Helper()
	out, err := s.run([]string{"LOG_LEVEL=info"}, "janitor", "--once", "--json")
	if err != nil {
		s.t.Fatalf("janitor --once: %v\n%s", err, out)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		s.t.Fatalf("janitor report %q: %v", out, err)
	}
	if rep["refused"] != nil || rep["error"] != nil {
		s.t.Fatalf("janitor pass: %s", out)
	}
	return rep
}
