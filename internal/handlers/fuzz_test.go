package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storagetest"
)

// uploadURL is the only shape a stored upload may take: a uuid name with the
// extension of its judged type, in its fan-out folder.
var uploadURL = regexp.MustCompile(`^/recursos/imagenes/productos/([0-9a-f]{2})/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(jpg|png|webp|gif)$`)

// listNames lists a folder's entry names, sorted.
func listNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var names []string
	for _, d := range ents {
		names = append(names, d.Name())
	}
	return names
}

// checkTree asserts that the storage root holds only its three folders
// (and the marker), that nothing is left in staging, that every live file
// has an upload's name, and that the folder around the root is unchanged.
func checkTree(t testing.TB, root string, around []string) {
	t.Helper()
	for _, n := range listNames(t, root) {
		if !slices.Contains([]string{"recursos", ".papelera", ".tmp", storage.MarkerName}, n) {
			t.Fatalf("got %q at the top of the storage root, want only recursos, .papelera, .tmp", n)
		}
	}
	if left := listNames(t, filepath.Join(root, ".tmp")); len(left) != 0 {
		t.Fatalf("got %v in .tmp, want nothing", left)
	}
	if got := listNames(t, filepath.Dir(root)); !slices.Equal(got, around) {
		t.Fatalf("got %v next to the storage root, want %v (nothing created outside)", got, around)
	}
	err := filepath.WalkDir(filepath.Join(root, "recursos"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if !uploadURL.MatchString("/" + filepath.ToSlash(rel)) {
			t.Fatalf("got live file %q, want only uuid-named uploads", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzUpload posts hostile multipart bodies to both upload routes: random
// field names, file names such as "../../x" or with NUL and CRLF, random part
// headers and contents, or an entirely random body. It never gets a 5xx, every
// answer is a JSON body of the route's family, a 201 stores the bytes under a
// uuid name below /recursos/imagenes/productos/, and nothing appears outside
// the storage root or stays in staging.
func FuzzUpload(f *testing.F) {
	e := newEnv(f, envOpts{storage: storagetest.Disk}) // checks the folder's tree
	around := listNames(f, filepath.Dir(e.root))
	seeds := []struct {
		cat                    bool
		field, filename, ctype string
		content, raw           []byte
	}{
		{false, "imagen", "x.png", "image/png", pngBytes, nil},
		{true, "file", "cat.jpg", "image/jpeg", jpegBytes, nil},
		{false, "imagen", "../../../../tmp/evil.png", "image/png", pngBytes, nil},
		{false, "imagen", `..\..\evil.png`, "image/png", gifBytes, nil},
		{true, "file", "/etc/passwd", "image/png", pngBytes, nil},
		{false, "imagen", "x.png\x00.php", "image/png", webpBytes, nil},
		{false, "imagen", "a\r\nContent-Type: text/html", "text/html", []byte("<script>x</script>"), nil},
		{true, "file", "x.png", "image/png", textBytes, nil},
		{false, "otro", "x.png", "image/png", pngBytes, nil},
		{false, "imagen", "", "", nil, nil},
		{true, "file", "%2e%2e%2fx.png", "image/png", pngBytes, nil},
		{false, "", "", "", nil, []byte("--B\r\nContent-Disposition: form-data; name=\"imagen\"; filename=\"../x\"\r\n\r\n\x89PNG\r\n--B--\r\n")},
		{true, "", "", "", nil, []byte("--B\r\n\r\n--B--")},
		{false, "", "", "", nil, []byte("garbage")},
	}
	for _, s := range seeds {
		f.Add(s.cat, s.field, s.filename, s.ctype, s.content, s.raw)
	}
	f.Fuzz(func(t *testing.T, cat bool, field, filename, ctype string, content, raw []byte) {
		body := raw
		if len(raw) == 0 {
			var b bytes.Buffer
			b.WriteString("--B\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"" + filename + "\"\r\n")
			if ctype != "" {
				b.WriteString("Content-Type: " + ctype + "\r\n")
			}
			b.WriteString("\r\n")
			b.Write(content)
			b.WriteString("\r\n--B--\r\n")
			body = b.Bytes()
		}
		p, token, key := "/api/v1/admin/imagenes/subir", e.admin, "mensaje"
		if cat {
			p, token, key = "/api/image", e.alice, "error"
		}
		hr := httptest.NewRequest("POST", p, bytes.NewReader(body))
		hr.Header.Set("Authorization", "Bearer "+token)
		hr.Header.Set("Content-Type", "multipart/form-data; boundary=B")
		res, err := e.app.Test(hr, -1)
		if err != nil {
			// fasthttp parses multipart bodies before routing and answers a
			// malformed one with 400 itself; app.Test reports that as an error.
			if !strings.Contains(err.Error(), "multipart") {
				t.Fatalf("POST %s: got %v, want a response or a multipart parse refusal", p, err)
			}
			checkTree(t, e.root, around)
			return
		}
		defer res.Body.Close()
		rb, _ := io.ReadAll(res.Body)
		got := resp{status: res.StatusCode, body: rb}
		if got.status >= 500 {
			t.Fatalf("got %d %s, want no 5xx", got.status, got.body)
		}
		var m map[string]any
		if err := json.Unmarshal(got.body, &m); err != nil {
			t.Fatalf("got body %q, want JSON: %v", got.body, err)
		}
		if got.status == 201 {
			u, _ := m["url"].(string)
			if cat {
				u = "" // the Cat answer has no url: read it from the row
				var id float64
				id, _ = m["id"].(float64)
				if err := e.pool.QueryRow(context.Background(), `SELECT url FROM producto_imagenes WHERE id = $1`, int(id)).Scan(&u); err != nil {
					t.Fatalf("row of upload %v: %v", m["id"], err)
				}
			}
			if !uploadURL.MatchString(u) {
				t.Fatalf("got url %q, want a uuid name under /recursos/imagenes/productos/", u)
			}
			if fn, _ := m["filename"].(string); fn != path.Base(u) {
				t.Fatalf("got filename %q, want %q", fn, path.Base(u))
			}
			stored, err := os.ReadFile(e.livePath(u))
			if err != nil {
				t.Fatalf("stored file of %s: %v", u, err)
			}
			if len(raw) == 0 && !bytes.Equal(stored, content) {
				t.Fatalf("got %d stored bytes, want the %d uploaded", len(stored), len(content))
			}
			// Keep the tree small for the next input.
			os.Remove(e.livePath(u))
			os.Remove(filepath.Dir(e.livePath(u))) // only if empty
			if _, err := e.pool.Exec(context.Background(), `DELETE FROM producto_imagenes WHERE url = $1`, u); err != nil {
				t.Fatal(err)
			}
		} else if _, ok := m[key]; !ok || len(m) != 1 {
			t.Fatalf("got %d %s, want {%q: ...}", got.status, got.body, key)
		}
		checkTree(t, e.root, around)
	})
}

// FuzzStaticPath requests arbitrary paths below /recursos/ (raw, so
// encoded, double-encoded, backslashes, NUL and overlong UTF-8 reach the
// route as sent). It never gets a 5xx, and a 200 is only ever the one live
// image: never the secret outside the root, reachable by a symlink inside.
func FuzzStaticPath(f *testing.F) {
	e := newEnv(f, envOpts{storage: storagetest.Disk}) // symlinks: the folder's own attack
	_, live := e.upload(pngBytes)
	outside := f.TempDir()
	secret := filepath.Join(outside, "secret.png")
	if err := os.WriteFile(secret, []byte("TOP SECRET"), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(e.root, "recursos", "imagenes", "productos", "link.png")); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.root, "recursos", "fuera")); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		strings.TrimPrefix(live, "/recursos/"), "../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "%252e%252e/x",
		"..%5c..%5cetc%5cpasswd", "imagenes/productos/x.png%00.txt", "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
		"imagenes/productos/link.png", "fuera/secret.png", "../.papelera/x", "%2e%2e%2f.papelera", "imagenes/productos/",
		"imagenes%2fproductos%2flink.png", "fuera%2fsecret.png", "..;/x", "%u002e%u002e/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = &url.URL{Opaque: "/recursos/" + p}
		r.RequestURI = ""
		res, err := e.app.Test(r, -1)
		if err != nil {
			return // not even a parsable request line: nothing reached a route
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("GET /recursos/%s: got %d %s, want no 5xx", p, res.StatusCode, b)
		}
		if bytes.Contains(b, []byte("TOP SECRET")) || bytes.Contains(b, []byte("root:")) {
			t.Fatalf("GET /recursos/%s served a file from outside the storage root", p)
		}
		if res.StatusCode == 200 && !bytes.Equal(b, pngBytes) {
			t.Fatalf("GET /recursos/%s: got 200 with %q, want only the live image", p, b)
		}
	})
}
