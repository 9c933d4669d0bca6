//go:build e2e

package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/storage"
)

// TestAdminPageInChromium drives the admin page in a real headless Chromium
// (Debian's package; `make e2e` installs it) at a phone's size: sign in,
// upload three images (two through the file input, one dropped on the drop
// zone; one above the 64 KiB anonymous body limit), see their thumbnails,
// send two to the trash, see them there with their thumbnails, restore one,
// meet a 409, run the dry-run janitor, sign out. After each step it checks
// the database rows and the files, not only the page, and that the console
// stayed free of errors. Each view's screenshot lands in bench/out/e2e/.
func TestAdminPageInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run `make e2e`, which installs it (apt-get install chromium)")
	}
	const secret = "e2e-secret-0123456789abcdef"
	pool, dbURL := dbtest.New(t)
	root := t.TempDir()
	// Info: a failed step prints the requests the server saw (the access
	// log) and anything it complained about, beside the page's state.
	env := map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": root, "JWT_SECRET": secret, "LOG_LEVEL": "info"}
	serverLog := &lockedBuffer{}
	stop, wait := serveLogging(t, env, serverLog)
	addr := env["HTTP_ADDR"]
	defer func() {
		stop()
		if err := wait(); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	base := "http://" + addr
	token, err := auth.Mint(auth.Config{Secret: secret}, "ana@tienda", true, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join("..", "bench", "out", "e2e")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := []string{
		writeImage(t, dir, "remera.jpg", 640, 480, false),
		writeImage(t, dir, "ruido.png", 300, 300, true), // incompressible: > 64 KiB
	}
	if st, _ := os.Stat(files[1]); st.Size() <= 64<<10 {
		t.Fatalf("%s is %d bytes, want above the 64 KiB anonymous limit", files[1], st.Size())
	}

	ctx := newBrowser(t, browser, 6*time.Minute)

	// Every console message of the page, read from the moment the tab
	// exists: calls of console.error, uncaught exceptions and the browser
	// log's errors (a failed image or fetch, a CSP refusal) all count.
	var mu sync.Mutex
	var consoleErrors []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				consoleErrors = append(consoleErrors, m.String()+" "+m.URL)
				mu.Unlock()
			}
		}
	}()
	// noConsoleErrors fails the step on any console message but the
	// expected ones: Chrome logs every fetch answered 4xx to the console
	// ("Failed to load resource"), which no page can silence, so the one
	// 409 this test provokes on purpose is named where it happens.
	noConsoleErrors := func(step string, expected ...string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		var unexpected []string
	next:
		for _, m := range consoleErrors {
			for _, e := range expected {
				if strings.Contains(m, e) {
					continue next
				}
			}
			unexpected = append(unexpected, m)
		}
		if len(unexpected) > 0 {
			t.Errorf("%s: console errors: %q", step, unexpected)
		}
		consoleErrors = nil
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\n%s", step, err, pageState(ctx, &mu, &consoleErrors, serverLog))
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}
	// waitJS polls a JavaScript condition until it is true.
	waitJS := func(cond string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(90*time.Second))(ctx, tg)
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", cond, err)
			}
			return nil
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	getCookies := func() []*network.Cookie {
		t.Helper()
		var cs []*network.Cookie
		do("read the cookies", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
			cs = res.Cookies
			return err
		}))
		return cs
	}
	db := dbCheck{t: t, pool: pool, root: root}

	// A phone: 390×844 CSS pixels at 3× — the page must work there.
	do("open the sign-in form",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile),
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		shot("0-ingresar"),
	)
	noConsoleErrors("sign-in form")

	do("a wrong token is refused with a message",
		chromedp.SetValue(chromedp.CSS("#token"), "esto-no-es-un-token"),
		chromedp.Submit(chromedp.CSS("#ingresar")),
		chromedp.WaitVisible(chromedp.CSS("#mensaje")),
	)
	msg := text("#mensaje")
	if !strings.Contains(msg, "Token inválido") {
		t.Errorf("sign-in with a bad token: got message %q", msg)
	}

	do("sign in",
		chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Submit(chromedp.CSS("#ingresar")),
		chromedp.WaitVisible(chromedp.CSS("#vista-imagenes")),
	)
	cookies := getCookies()
	if len(cookies) != 1 || cookies[0].Name != "token" || !cookies[0].HTTPOnly || cookies[0].SameSite != network.CookieSameSiteStrict {
		t.Fatalf("after sign-in: got cookies %+v, want one HttpOnly SameSite=Strict token", cookies)
	}
	scriptSees, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(scriptSees, "token") {
		t.Errorf("document.cookie shows the token: %q", scriptSees)
	}
	noConsoleErrors("signed in")

	// Two through the file input, one dropped on the zone.
	do("upload two with the file input",
		chromedp.SetUploadFiles(chromedp.CSS("#archivo"), files),
		waitJS(`document.querySelectorAll("#grilla .tarjeta").length === 2`),
	)
	do("drop a third on the drop zone",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](`(async () => {
			const c = document.createElement("canvas"); c.width = 200; c.height = 120;
			const g = c.getContext("2d"); g.fillStyle = "#2457c5"; g.fillRect(0, 0, 200, 120);
			g.fillStyle = "#f5b700"; g.fillRect(40, 20, 120, 80);
			const blob = await new Promise((r) => c.toBlob(r, "image/png"));
			const dt = new DataTransfer();
			dt.items.add(new File([blob], "arrastrada.png", { type: "image/png" }));
			const zona = document.getElementById("zona");
			for (const type of ["dragenter", "dragover", "drop"]) {
				zona.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
			}
		})()`, chromedp.EvalAwaitPromise)(ctx, tg)
			return err
		}),
		waitJS(`document.querySelectorAll("#grilla .tarjeta").length === 3`),
		waitJS(`[...document.querySelectorAll("#grilla img")].every((i) => i.complete && i.naturalWidth > 0)`),
		shot("1-imagenes"),
	)
	ids := db.ids(`SELECT id FROM producto_imagenes ORDER BY id`)
	if len(ids) != 3 {
		t.Fatalf("after the uploads: got rows %v, want 3", ids)
	}
	for _, u := range db.urls(`SELECT url FROM producto_imagenes`) {
		db.file(u, true)
	}
	widths, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[...document.querySelectorAll("#grilla img")].map((i) => i.naturalWidth)`))
	if err != nil || len(widths) != 3 {
		t.Fatalf("thumbnail widths: %v %v", widths, err)
	}
	for _, w := range widths {
		if w < 1 || w > 256 {
			t.Errorf("a grid image is %d px wide, want a thumbnail of at most 256", w)
		}
	}
	noConsoleErrors("uploads")

	// Send the two newest to the trash.
	del := ids[1:]
	do("select two and send them to the trash",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#grilla input[data-id="%d"]`, del[0]))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#grilla input[data-id="%d"]`, del[1]))),
		chromedp.Click(chromedp.CSS("#eliminar")),
		waitJS(`document.querySelectorAll("#grilla .tarjeta").length === 1`),
		waitJS(`document.getElementById("aviso").textContent.includes("papelera")`),
	)
	if got := db.ids(`SELECT id FROM producto_imagenes ORDER BY id`); len(got) != 1 || got[0] != ids[0] {
		t.Errorf("after the delete: got rows %v, want [%d]", got, ids[0])
	}
	trashed := db.urls(`SELECT url FROM imagenes_papelera ORDER BY id`)
	if len(trashed) != 2 {
		t.Fatalf("after the delete: got %d trash entries, want 2", len(trashed))
	}
	for _, u := range trashed {
		db.file(u, false)
	}
	if n := db.trashFiles(); n != 2 {
		t.Errorf("after the delete: %d files in .papelera, want 2", n)
	}
	noConsoleErrors("delete")

	do("the trash shows both with thumbnails",
		chromedp.Click(chromedp.CSS("#tab-papelera")),
		waitJS(`document.querySelectorAll("#grilla-papelera .tarjeta").length === 2`),
		waitJS(`[...document.querySelectorAll("#grilla-papelera img")].length === 2 && [...document.querySelectorAll("#grilla-papelera img")].every((i) => i.complete && i.naturalWidth > 0)`),
		shot("2-papelera"),
	)
	trashText := text("#grilla-papelera")
	for _, want := range []string{"eliminada a mano", "ana@tienda", "días"} {
		if !strings.Contains(trashText, want) {
			t.Errorf("the trash view lacks %q: %q", want, trashText)
		}
	}
	noConsoleErrors("trash")

	entries := db.ids(`SELECT id FROM imagenes_papelera ORDER BY id`)
	do("restore one",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#grilla-papelera .tarjeta[data-id="%d"] .restaurar-una`, entries[0]))),
		waitJS(`document.querySelectorAll("#grilla-papelera .tarjeta").length === 1`),
		waitJS(`document.getElementById("aviso").textContent.includes("restaurada")`),
	)
	if got := db.ids(`SELECT id FROM producto_imagenes ORDER BY id`); len(got) != 2 {
		t.Errorf("after the restore: got rows %v, want 2", got)
	}
	db.file(trashed[0], true)
	noConsoleErrors("restore")

	// A 409: another image took the trashed one's url meanwhile.
	db.exec(`INSERT INTO producto_imagenes (url, orden) VALUES ($1, 1)`, trashed[1])
	do("a conflicting restore says why",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#grilla-papelera .tarjeta[data-id="%d"] .restaurar-una`, entries[1]))),
		waitJS(`document.getElementById("aviso").textContent.includes("No se pudo restaurar")`),
	)
	do("screenshot the 409", shot("3-papelera-409"))
	conflict := text("#aviso")
	if !strings.Contains(conflict, "ya está en uso") || !strings.Contains(conflict, "Quedó en la papelera") {
		t.Errorf("409 message: got %q", conflict)
	}
	if n := len(db.ids(`SELECT id FROM imagenes_papelera`)); n != 1 {
		t.Errorf("after the 409: %d trash entries, want 1 (still there)", n)
	}
	db.exec(`DELETE FROM producto_imagenes WHERE url = $1`, trashed[1])
	noConsoleErrors("409", "status of 409 (Conflict)")

	// A real pass by the standalone janitor (another process, as in
	// production): it sweeps the cached thumbnail of the image still in
	// the trash, and the Conserje view shows its report.
	stale := filepath.Join(root, ".miniaturas", "256", strings.TrimPrefix(trashed[1], "/recursos/")+".png")
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("the grid's thumbnail of %s was not cached: %v", trashed[1], err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"janitor", "--once", "--json"}, envOf(map[string]string{"DATABASE_URL": dbURL, "STORAGE_DIR": root, "LOG_LEVEL": "error"}), &out, io.Discard); err != nil {
		t.Fatalf("janitor --once: %v %s", err, out.String())
	}
	if !strings.Contains(out.String(), `"thumbnails":1`) {
		t.Errorf("janitor --once --json: got %s, want thumbnails 1", out.String())
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("the janitor left %s", stale)
	}
	rowsBefore := db.ids(`SELECT id FROM producto_imagenes ORDER BY id`)
	do("the last pass's report",
		chromedp.Click(chromedp.CSS("#tab-conserje")),
		waitJS(`document.getElementById("metricas").children.length === 4`),
		waitJS(`document.querySelector('#ultima tr[data-campo="thumbnails"] td')?.textContent === "1"`),
	)
	do("the janitor's dry run",
		chromedp.Click(chromedp.CSS("#simular")),
		waitJS(`document.querySelector("#simulacion table.informe") !== null`),
		shot("4-conserje"),
	)
	report, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll("#simulacion tr")].map((r) => [r.dataset.campo, r.querySelector("td").textContent]))`))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"recovered", "purged", "orphans", "unattached", "dangling", "thumbnails", "files_scanned"} {
		if _, ok := report[k]; !ok {
			t.Errorf("the dry run's report lacks %s: %v", k, report)
		}
	}
	if report["purged"] != "0" || report["orphans"] != "0" {
		t.Errorf("dry run: got %v, want nothing to purge and no orphans", report)
	}
	if got := db.ids(`SELECT id FROM producto_imagenes ORDER BY id`); fmt.Sprint(got) != fmt.Sprint(rowsBefore) {
		t.Errorf("the dry run changed the rows: %v, was %v", got, rowsBefore)
	}
	if n := db.count(`SELECT count(*) FROM conserje_informes`); n != 1 {
		t.Errorf("%d stored reports, want 1 (the real pass; a dry run is not stored)", n)
	}
	// A refusal is explained in words: the marker gone (as on an unmounted
	// volume), the dry run refuses and the page says what that means.
	marker := filepath.Join(root, storage.MarkerName)
	if err := os.Rename(marker, marker+".aparte"); err != nil {
		t.Fatal(err)
	}
	do("a refused dry run",
		chromedp.Click(chromedp.CSS("#simular")),
		waitJS(`document.querySelector("#simulacion .rechazo") !== null`),
		shot("5-conserje-rechazo"),
	)
	if why := text("#simulacion .rechazo"); !strings.Contains(why, "marcador") || !strings.Contains(why, "volumen") {
		t.Errorf("the refusal in words: got %q", why)
	}
	if err := os.Rename(marker+".aparte", marker); err != nil {
		t.Fatal(err)
	}
	noConsoleErrors("conserje")

	do("sign out",
		chromedp.Click(chromedp.CSS("#salir")),
		chromedp.WaitVisible(chromedp.CSS("#token")),
	)
	cookies = getCookies()
	if len(cookies) != 0 {
		t.Errorf("after sign-out: cookies %+v, want none", cookies)
	}
	res, err := http.Get(base + "/api/v1/admin/imagenes")
	if err == nil {
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("API without the cookie: got %d, want 401", res.StatusCode)
		}
	}
	noConsoleErrors("sign out")
}

// writeImage writes a w×h jpeg or png into dir; noisy makes it
// incompressible (big).
func writeImage(t *testing.T, dir, name string, w, h int, noisy bool) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 160, 255}
			if noisy {
				c = color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	var err error
	if strings.HasSuffix(name, ".jpg") {
		err = jpeg.Encode(&buf, img, nil)
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dbCheck reads the database and the storage folder behind the page.
type dbCheck struct {
	t    *testing.T
	pool *pgxpool.Pool
	root string
}

func (d dbCheck) ids(q string) []int64 {
	d.t.Helper()
	rows, err := d.pool.Query(context.Background(), q)
	if err != nil {
		d.t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			d.t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func (d dbCheck) urls(q string) []string {
	d.t.Helper()
	rows, err := d.pool.Query(context.Background(), q)
	if err != nil {
		d.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			d.t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func (d dbCheck) count(q string) int {
	d.t.Helper()
	var n int
	if err := d.pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
		d.t.Fatal(err)
	}
	return n
}

func (d dbCheck) exec(q string, args ...any) {
	d.t.Helper()
	if _, err := d.pool.Exec(context.Background(), q, args...); err != nil {
		d.t.Fatal(err)
	}
}

// file checks whether url's live file exists.
func (d dbCheck) file(url string, live bool) {
	d.t.Helper()
	_, err := os.Stat(filepath.Join(d.root, filepath.FromSlash(url)))
	if (err == nil) != live {
		d.t.Errorf("live file of %s: exists %v, want %v", url, err == nil, live)
	}
}

func (d dbCheck) trashFiles() int {
	d.t.Helper()
	ents, err := os.ReadDir(filepath.Join(d.root, ".papelera"))
	if err != nil {
		d.t.Fatal(err)
	}
	return len(ents)
}

// pageState says what a failed step left: the page's message, its cards
// and view, the console messages not yet checked, and the server's log
// (each request's line and any complaint), so a timeout says whether the
// requests were sent, answered, or refused.
func pageState(ctx context.Context, mu *sync.Mutex, console *[]string, serverLog *lockedBuffer) string {
	// The step's own deadline may be what ended it: a fresh, short one.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	page, err := chromedp.Run(sctx, chromedp.Evaluate[string](`JSON.stringify({
		url: location.href,
		mensaje: document.querySelector("#mensaje")?.textContent ?? null,
		tarjetas: document.querySelectorAll("#grilla .tarjeta").length,
		vistas: [...document.querySelectorAll("[id^=vista-]")].filter((v) => !v.hidden).map((v) => v.id),
	})`))
	if err != nil {
		page = "(page unreadable: " + err.Error() + ")"
	}
	mu.Lock()
	msgs := strings.Join(*console, "\n  ")
	mu.Unlock()
	return fmt.Sprintf("page: %s\nconsole:\n  %s\nserver log:\n%s", page, msgs, serverLog.String())
}

// lockedBuffer is a bytes.Buffer safe for serve's concurrent log writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
