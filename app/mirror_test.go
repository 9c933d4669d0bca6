package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
)

// The README's walkthrough "Moving a folder into a bucket", step by step
// with the real commands: a folder store built through the real service
// (uploads, a product, thumbnails, deletes into the trash, a restore, a
// staged upload a crash left), `storage mirror` while serve still writes,
// more writes, serve stopped, `storage mirror --delete`, STORAGE_URL
// switched, `janitor --once --dry-run` finds nothing to do, and serve on
// the bucket answers every row's image with the folder's bytes, its cached
// thumbnail without rendering it again, and restores from the mirrored
// trash.
func TestMirrorFolderIntoBucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, dbURL := dbtest.New(t)
	dir := t.TempDir()
	o := s3test.Bucket(t)
	secret := "0123456789abcdef0123"
	token, err := auth.Mint(auth.Config{Secret: secret}, "admin", true, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	folderEnv := map[string]string{"DATABASE_URL": dbURL, "LOG_LEVEL": "warn", "JWT_SECRET": secret, "STORAGE_URL": "file://" + dir}
	bucketURL := s3Env(o, dbURL)["STORAGE_URL"]
	creds := map[string]string{"AWS_ACCESS_KEY_ID": o.AccessKey, "AWS_SECRET_ACCESS_KEY": o.SecretKey}
	var c client
	// mirror runs the command and returns its report (stdout) and notes
	// (stderr: what it left behind or removed).
	mirror := func(extra ...string) (report, notes string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args := append([]string{"storage", "mirror", "--from", "file://" + dir, "--to", bucketURL}, extra...)
		if err := run(ctx, args, envOf(creds), &out, &errOut); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), errOut.String()
	}
	// dryRun runs the janitor's dry run on the folder (env given) or the
	// bucket.
	dryRun := func(env map[string]string) map[string]any {
		t.Helper()
		if env == nil {
			env = s3Env(o, dbURL)
		}
		// The orphan grace is measured on Last-Modified, which in the
		// bucket is the mirror's time: 0s, or a live object without a row
		// would hide from this check for an hour.
		env["JANITOR_ORPHAN_GRACE"] = "0s"
		var out bytes.Buffer
		if err := run(ctx, []string{"janitor", "--once", "--dry-run", "--json", "--verbose"}, envOf(env), &out, io.Discard); err != nil {
			t.Fatalf("dry run on %s: %v (%s)", env["STORAGE_URL"], err, out.String())
		}
		var rep map[string]any
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}

	// The folder store, through serve.
	sigterm, wait := serveInBackground(t, folderEnv)
	c = client{t: t, base: "http://" + folderEnv["HTTP_ADDR"], token: token}
	var ids []int
	var urls []string
	for i := range 6 {
		id, url := c.upload(testPNG(i))
		ids, urls = append(ids, id), append(urls, url)
	}
	c.json("POST", "/api/v1/admin/productos", fmt.Sprintf(`{"nombre":"Remera","precio":1000,"imagenes":[{"url":%q,"orden":1},{"url":%q,"orden":2}]}`, urls[0], urls[1]), 201)
	c.get(urls[0]+"?w=64", 200) // cached, and mirrored
	c.get(urls[3]+"?w=64", 200) // cached, then its image is deleted: left behind
	c.json("DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", ids[3]), "", 200)
	gone := c.json("DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", ids[4]), "", 200)
	c.json("POST", fmt.Sprintf("/api/v1/admin/papelera/%v/restaurar", gone["papelera_id"]), "", 200)
	if err := os.WriteFile(filepath.Join(dir, ".tmp", "cut-upload.part"), testPNG(9), 0o644); err != nil {
		t.Fatal(err) // what a crash mid-upload leaves in staging
	}

	// Step 0: the dry run on the folder lists what the mirror will leave
	// behind (the deleted image's thumbnail, the staged leftover) and
	// nothing else.
	if rep := dryRun(folderEnv); count(rep) != 2 || rep["thumbnails"] != 1.0 || rep["staging"] != 1.0 {
		t.Errorf("dry run on the folder: %v, want the stale thumbnail and the staged leftover only", rep)
	}

	// Step 1: the first mirror, serve still writing.
	first, _ := mirror()
	// Writes after it: an image to the trash (its live key is now stale in
	// the bucket) and a new upload.
	c.json("DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", ids[5]), "", 200)
	_, late := c.upload(testPNG(6))
	urls = append(urls, late)
	// Without the second run the bucket is behind: the dry run says so.
	if rep := dryRun(nil); count(rep) == 0 {
		t.Errorf("dry run after the first mirror and more writes: nothing to do, want the changes found (%v)", rep)
	}

	// Step 2: writers stopped, the second mirror with --delete.
	sigterm()
	if err := wait(); err != nil {
		t.Fatalf("serve on the folder: %v", err)
	}
	var rep struct{ Copied, Removed, Staging, StaleThumbs int }
	out, notes := mirror("--delete", "--json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("second mirror's report %q: %v", out, err)
	}
	if rep.Removed != 1 || rep.Copied != 2 || rep.Staging != 1 || rep.StaleThumbs != 1 {
		t.Errorf("second mirror: %+v, want 2 copied (the new upload, the trashed image), 1 removed (its stale live key), staging 1 and 1 stale thumbnail left behind (first run: %s; notes: %s)", rep, first, notes)
	}

	// The bucket holds exactly the folder, less what stays behind, byte for byte.
	want := folderFiles(t, dir)
	delete(want, ".tmp/cut-upload.part")
	delete(want, thumbKeyOf(urls[3]))
	got := bucketObjects(t, o)
	if d := keysDiff(want, got); d != "" {
		t.Errorf("bucket after the mirror: %s", d)
	}
	for k, b := range want {
		if g, ok := got[k]; ok && !bytes.Equal(g, b) {
			t.Errorf("%s: %d bytes in the bucket, want the folder's %d", k, len(g), len(b))
		}
	}
	if _, ok := got[".imagenes-storage"]; !ok {
		t.Error("the marker did not come across")
	}

	// Step 3: STORAGE_URL switched; the dry run finds nothing to do.
	if rep := dryRun(nil); count(rep) != 0 {
		t.Errorf("dry run after the mirror: want nothing to do, got %v", rep)
	}

	// Step 4: serve on the bucket.
	env := s3Env(o, dbURL)
	sigterm, wait = serveInBackground(t, env)
	c = client{t: t, base: "http://" + env["HTTP_ADDR"], token: token}
	rows, err := pool.Query(ctx, `SELECT id, url FROM producto_imagenes ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id  int
		url string
	}
	var live []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.url); err != nil {
			t.Fatal(err)
		}
		live = append(live, r)
	}
	if rows.Err() != nil || len(live) != 5 {
		t.Fatalf("%d rows (%v), want 5 live images", len(live), rows.Err())
	}
	for _, r := range live {
		if b := c.get(r.url, 200); !bytes.Equal(b, want[r.url[1:]]) {
			t.Errorf("GET %s from the bucket: %d bytes, want the folder's %d", r.url, len(b), len(want[r.url[1:]]))
		}
		if b := c.get(fmt.Sprintf("/api/image/%d", r.id), 200); !bytes.Equal(b, want[r.url[1:]]) {
			t.Errorf("GET /api/image/%d from the bucket: %d bytes, want the folder's %d", r.id, len(b), len(want[r.url[1:]]))
		}
	}
	if b := c.get(urls[0]+"?w=64", 200); !bytes.Equal(b, want[thumbKeyOf(urls[0])]) {
		t.Errorf("thumbnail from the bucket: %d bytes, want the mirrored %d", len(b), len(want[thumbKeyOf(urls[0])]))
	}
	if m := string(c.get("/metrics", 200)); !strings.Contains(m, "imagenes_thumbnails_generated_total 0\n") {
		t.Errorf("the mirrored thumbnail was rendered again (want imagenes_thumbnails_generated_total 0)")
	}
	// The trash came across: an image trashed on the folder restores from
	// the bucket, with its bytes.
	var entry int
	if err := pool.QueryRow(ctx, `SELECT id FROM imagenes_papelera WHERE url = $1`, urls[3]).Scan(&entry); err != nil {
		t.Fatal(err)
	}
	c.json("POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", entry), "", 200)
	if b := c.get(urls[3], 200); !bytes.Equal(b, testPNG(3)) {
		t.Errorf("restored from the bucket's trash: %d bytes, want the upload's", len(b))
	}
	sigterm()
	if err := wait(); err != nil {
		t.Errorf("serve on the bucket: %v", err)
	}
}

// count adds up a janitor report's "something to do" counts.
func count(rep map[string]any) int {
	n := 0
	for _, k := range []string{"recovered", "purged", "orphans", "unattached", "dangling", "adopted", "trash_missing", "in_flight", "staging", "thumbnails"} {
		v, _ := rep[k].(float64)
		n += int(v)
	}
	if rep["refused"] != nil {
		n++
	}
	return n
}

// testPNG is a small, real, decodable PNG, different for each i.
func testPNG(i int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for x := range 80 {
		for y := range 60 {
			img.Set(x, y, color.RGBA{uint8(i * 40), uint8(x * 3), uint8(y * 4), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// thumbKeyOf is the cache key of url's 64-wide thumbnail.
func thumbKeyOf(url string) string {
	return ".miniaturas/64/" + strings.TrimPrefix(url, "/recursos/") + ".png"
}

// folderFiles reads every regular file below dir, by slash path.
func folderFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// bucketObjects reads every object of the bucket, by key.
func bucketObjects(t *testing.T, o objstore.Options) map[string][]byte {
	t.Helper()
	s, err := objstore.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Client()
	m := map[string][]byte{}
	for oi := range c.ListObjectsIter(t.Context(), o.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		obj, err := c.GetObject(t.Context(), o.Bucket, oi.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatal(err)
		}
		m[oi.Key] = b
	}
	return m
}

// keysDiff says which keys one map has and the other lacks.
func keysDiff(want, got map[string][]byte) string {
	var missing, extra []string
	for k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("missing %v, not in the folder %v", missing, extra)
}

// client is an admin's HTTP client of one serve.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path, contentType string, body io.Reader, want int) []byte {
	c.t.Helper()
	r, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s (%v), want %d", method, path, res.StatusCode, b, err, want)
	}
	return b
}

func (c client) get(path string, want int) []byte { return c.do("GET", path, "", nil, want) }

// json sends body (JSON, or nothing) and decodes the answer.
func (c client) json(method, path, body string, want int) map[string]any {
	c.t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	var m map[string]any
	if err := json.Unmarshal(c.do(method, path, ct, strings.NewReader(body), want), &m); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return m
}

// upload stores img through Balsamoa's upload route.
func (c client) upload(img []byte) (id int, url string) {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("imagen", "foto.png")
	fw.Write(img)
	w.Close()
	var m struct {
		ID  int    `json:"id"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal(c.do("POST", "/api/v1/admin/imagenes/subir", w.FormDataContentType(), &buf, 201), &m); err != nil {
		c.t.Fatal(err)
	}
	return m.ID, m.URL
}

// Bad arguments to storage mirror are usage errors (exit 2) naming what is
// wrong, before anything is read or written.
func TestStorageMirrorUsage(t *testing.T) {
	t.Parallel()
	creds := map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "secretsecret"}
	to := "s3://fotos?endpoint=http://127.0.0.1:1&path_style=true"
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no subcommand", []string{"storage"}, creds, "mirror"},
		{"unknown subcommand", []string{"storage", "copy"}, creds, "mirror"},
		{"no --from", []string{"storage", "mirror", "--to", to}, creds, "--from"},
		{"relative --from", []string{"storage", "mirror", "--from", "file://srv/x", "--to", to}, creds, "--from"},
		{"--from not a file url", []string{"storage", "mirror", "--from", "/srv/x", "--to", to}, creds, "--from"},
		{"no --to", []string{"storage", "mirror", "--from", "file:///srv/x"}, creds, "--to"},
		{"--to not s3", []string{"storage", "mirror", "--from", "file:///srv/x", "--to", "file:///otra"}, creds, "--to"},
		{"half the credentials", []string{"storage", "mirror", "--from", "file:///srv/x", "--to", to}, map[string]string{"AWS_ACCESS_KEY_ID": "k"}, "AWS_SECRET_ACCESS_KEY"},
		{"unknown flag", []string{"storage", "mirror", "--borrar"}, creds, "borrar"},
	}
	for _, tc := range cases {
		err := run(context.Background(), tc.args, envOf(tc.env), io.Discard, io.Discard)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a usage error about %q", tc.name, err, tc.want)
		}
	}
}
