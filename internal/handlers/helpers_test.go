package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/handlers"
	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
	"github.com/imagenes/imagenes/internal/trash"
)

const testSecret = "test-secret-0123456789abcdef"

// env is one test's service: the real app over a fresh database and a
// storage root in t.TempDir() — or a fresh bucket on the test MinIO under
// IMAGENES_TEST_STORAGE=s3 (make test runs the backend-neutral tests so).
type env struct {
	t     testing.TB // fails: the test, or the subtest of on(t)
	owner testing.TB // the test that made e: the app's cleanups are its own
	app   *fiber.App
	reg   *prometheus.Registry
	pool  *pgxpool.Pool
	store *repo.Store
	files storage.Backend
	kit   *storagetest.Kit // nil when envOpts.files was given
	root  string           // the folder (disk only)
	logs  *observer.ObservedLogs
	admin string // admin token, sub "admin-1"
	alice string // user token, sub "alice"
	bob   string // user token, sub "bob"
}

type envOpts struct {
	auth        *auth.Config // nil: HS256 with testSecret
	readTimeout time.Duration
	// balsamoa adds Balsamoa's own tables and catalogue view
	// (testdata/balsamoa.sql) before the app starts, as beside a real shop.
	balsamoa bool
	// storage: "disk" or "s3"; "" is what IMAGENES_TEST_STORAGE says.
	storage string
	// files, when set, is the storage itself (an unreachable bucket).
	files storage.Backend
	// wrap, when set, wraps the kit's storage (a faultstore.Store): the
	// app runs on what it returns, the test's checks keep the kit.
	wrap func(storage.Backend) storage.Backend
	// redirect answers image reads with presigned urls (s3 only).
	redirect bool
	// maxUploads is Deps.MaxUploads (0: the default); uploadsPerCaller,
	// uploadsAdminReserve, uploadGrace and uploadMinRate are the Deps
	// fields of those names (0: their defaults).
	maxUploads                            int
	uploadsPerCaller, uploadsAdminReserve int
	uploadGrace                           time.Duration
	uploadMinRate                         int
	// bodyBudget is Deps.BodyBudget (0: the default).
	bodyBudget int64
	// trustedOrigins builds Deps.CrossOrigin (TRUSTED_ORIGINS).
	trustedOrigins []string
	// requestTimeout is Deps.RequestTimeout (0: 10 s, serve's default).
	requestTimeout time.Duration
	// uncapped lifts a bucket's cap on moves per request
	// (objstore.MaxMovesPerRequest) to the SPEC's 1 000, so a benchmark can
	// time what the cap keeps requests from.
	uncapped bool
	// appPool, when set, is the pool the app runs on, opened on the test
	// database's url (through a proxy that breaks connections); the env's
	// own checks keep the direct pool.
	appPool func(t testing.TB, url string) *pgxpool.Pool
}

// on returns e for a subtest: its helpers then fail t, not the test that
// made e (FailNow on a parent from a subtest's goroutine is a test bug that
// hides the real failure).
func (e *env) on(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

func newEnv(t testing.TB, opts ...envOpts) *env {
	t.Helper()
	var o envOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	pool, dbURL := dbtest.New(t)
	var kit *storagetest.Kit
	files, root := o.files, ""
	if files == nil {
		kind := o.storage
		if kind == "" {
			kind = storagetest.KindFromEnv(t)
		}
		kit = storagetest.New(t, kind)
		files, root = kit.Backend, kit.Dir
		if o.uncapped && kit.S3() != nil {
			files = uncapped{kit.S3()}
		}
		if o.wrap != nil {
			files = o.wrap(files)
		}
	}
	var presign handlers.Presigner
	if o.redirect {
		presign = kit.S3()
	}
	acfg := auth.Config{Secret: testSecret}
	if o.auth != nil {
		acfg = *o.auth
	}
	store := repo.New(pool)
	appStore := store
	if o.appPool != nil {
		appStore = repo.New(o.appPool(t, dbURL))
	}
	if o.balsamoa {
		ddl, err := os.ReadFile("testdata/balsamoa.sql")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(context.Background(), string(ddl)); err != nil {
			t.Fatalf("balsamoa tables: %v", err)
		}
	}
	// As serve does: Balsamoa's tables are detected once, its sessions
	// checked when its usuarios table is there.
	bals, err := store.DetectBalsamoa(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if bals.Sesiones {
		acfg.Sessions = store
	}
	a, err := auth.New(acfg)
	if err != nil {
		t.Fatalf("auth: %v", err)
	}
	t.Cleanup(a.Close)
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	proto := trash.New(appStore, files, log)
	reg := prometheus.NewRegistry()
	if o.requestTimeout == 0 {
		o.requestTimeout = 10 * time.Second
	}
	domain := catalog.NewMetrics(reg)
	cop, err := handlers.CrossOrigin(o.trustedOrigins)
	if err != nil {
		t.Fatalf("trusted origins: %v", err)
	}
	app := handlers.NewApp(handlers.Deps{
		Store: appStore, Catalog: catalog.New(proto, files, domain), Files: files, Auth: a, Log: log,
		Janitor: janitor.New(janitor.Deps{Store: appStore, Files: files, Protocol: proto, PassLock: repo.NewPassLocks(pool),
			Log: log, Trashed: domain}),
		JanitorConfig: janitor.Config{Retention: 168 * time.Hour, OrphanGrace: time.Hour, UnattachedTTL: 24 * time.Hour, MaxOrphans: 1000, BatchSize: 100},
		Registry:      reg, RequestTimeout: o.requestTimeout, ReadTimeout: o.readTimeout, Balsamoa: bals,
		MaxUploads: o.maxUploads, BodyBudget: o.bodyBudget, CrossOrigin: cop,
		UploadsPerCaller: o.uploadsPerCaller, UploadsAdminReserve: o.uploadsAdminReserve,
		UploadGrace: o.uploadGrace, UploadMinRate: o.uploadMinRate,
		Ready:    func(ctx context.Context) error { return errors.Join(appStore.Ping(ctx), files.Usable(ctx)) },
		Redirect: presign, RedirectTTL: time.Minute,
	})
	e := &env{t: t, owner: t, app: app, reg: reg, pool: pool, store: store, files: files, kit: kit, root: root, logs: logs}
	e.admin = mint(t, "admin-1", true)
	e.alice = mint(t, "alice", false)
	e.bob = mint(t, "bob", false)
	return e
}

func mint(t testing.TB, sub string, admin bool) string {
	t.Helper()
	tok, err := auth.Mint(auth.Config{Secret: testSecret}, sub, admin, time.Hour, time.Now())
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// req is one HTTP request of a scenario.
type req struct {
	method, path, token string
	body                io.Reader
	contentType         string
	header              map[string]string
}

type resp struct {
	status int
	body   []byte
	header http.Header
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (e *env) do(t testing.TB, r req) resp {
	t.Helper()
	hr := httptest.NewRequest(r.method, "http://example.test"+r.path, r.body)
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if h := r.header["Host"]; h != "" { // what a proxy in front may send
		hr.Host = h
	}
	res, err := e.app.Test(hr, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	got := resp{status: res.StatusCode, body: b, header: res.Header}
	checkSpec(t, r.method, r.path, got)
	return got
}

// multipartBody builds a multipart form with one file field.
func multipartBody(t testing.TB, field, filename string, content []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	w.Close()
	return &buf, w.FormDataContentType()
}

// Tiny files whose first bytes make them the named type.
var (
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 200)...)
	jpegBytes = append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, bytes.Repeat([]byte{9}, 200)...)
	gifBytes  = append([]byte("GIF89a"), bytes.Repeat([]byte{1}, 200)...)
	webpBytes = append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), bytes.Repeat([]byte{3}, 200)...)
	textBytes = []byte("just some text, not an image at all\n")
)

// upload stores an image through the Balsamoa route and returns id and url.
func (e *env) upload(content []byte) (int, string) {
	e.t.Helper()
	body, ct := multipartBody(e.t, "imagen", "x.png", content)
	r := e.do(e.t, req{method: "POST", path: "/api/v1/admin/imagenes/subir", token: e.admin, body: body, contentType: ct})
	if r.status != 201 {
		e.t.Fatalf("upload: got %d %s, want 201", r.status, r.body)
	}
	m := r.json(e.t)
	return int(m["id"].(float64)), m["url"].(string)
}

// uploadCat stores an image through the Cat route as token's user.
func (e *env) uploadCat(token string, content []byte) int {
	e.t.Helper()
	body, ct := multipartBody(e.t, "file", "cat.png", content)
	r := e.do(e.t, req{method: "POST", path: "/api/image", token: token, body: body, contentType: ct})
	if r.status != 201 {
		e.t.Fatalf("cat upload: got %d %s, want 201", r.status, r.body)
	}
	return int(r.json(e.t)["id"].(float64))
}

// livePath is url's file (disk only: tests of the folder itself).
func (e *env) livePath(url string) string {
	if e.root == "" {
		e.t.Fatalf("livePath(%s) on a %s storage: this test is for the folder", url, e.kit.Kind)
	}
	return filepath.Join(e.root, filepath.FromSlash(url))
}

// live reports whether url has its live file, on either storage.
func (e *env) live(url string) bool { return e.kit.Live(e.t, url) }

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// trashFiles lists the files in the trash, on either storage.
func (e *env) trashFiles() []string {
	e.t.Helper()
	return e.kit.Trash(e.t)
}

// stagingFiles lists the staged uploads, on either storage.
func (e *env) stagingFiles() []string {
	e.t.Helper()
	return e.kit.Staging(e.t)
}

func (e *env) rowExists(id int) bool {
	e.t.Helper()
	var ok bool
	if err := e.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM producto_imagenes WHERE id = $1)`, id).Scan(&ok); err != nil {
		e.t.Fatal(err)
	}
	return ok
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) logged(msg string) bool {
	return e.logs.FilterMessageSnippet(msg).Len() > 0
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// listen serves the app on a loopback port for what app.Test cannot show
// (fasthttp cutting off an oversized body) and returns its base URL.
func (e *env) listen() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go e.app.Listener(ln) //nolint:errcheck // ends with Shutdown
	e.owner.Cleanup(func() { e.app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// postOversized announces a body of declared bytes on a raw connection,
// sends only its first part, and reads the answer: the server must refuse by
// the Content-Length alone, without reading (or buffering) the rest. A real
// client streaming the whole body would race the server's close.
func postOversized(t testing.TB, base, path, token, contentType string, declared int64, head io.Reader) resp {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		path, token, contentType, declared)
	io.CopyN(conn, head, 64<<10) //nolint:errcheck // the server may already have closed
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b, header: res.Header}
}

// uncapped is a bucket whose moves per request are not capped below the
// SPEC's 1 000 (envOpts.uncapped); every other method is the store's own.
type uncapped struct{ *objstore.Store }

func (u uncapped) Capabilities() storage.Capabilities {
	c := u.Store.Capabilities()
	c.MaxMovesPerRequest = catalog.MaxBulk
	return c
}
