package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/s3test"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// s3Env is the environment of a process on bucket o.
func s3Env(o objstore.Options, dbURL string) map[string]string {
	return map[string]string{
		"DATABASE_URL": dbURL, "LOG_LEVEL": "warn", "JWT_SECRET": "0123456789abcdef0123",
		"STORAGE_URL":       fmt.Sprintf("s3://%s?endpoint=%s&path_style=true", o.Bucket, o.Endpoint),
		"AWS_ACCESS_KEY_ID": o.AccessKey, "AWS_SECRET_ACCESS_KEY": o.SecretKey,
	}
}

// A bucket that cannot be used stops serve at start-up with one line
// naming STORAGE_URL, and without waiting for a request to find out.
func TestServeRefusesUnusableBucket(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.New(t)
	good := s3test.Bucket(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	cases := []struct {
		name      string
		edit      func(env map[string]string)
		wantUsage bool
		want      string
	}{
		{"missing bucket", func(env map[string]string) {
			env["STORAGE_URL"] = strings.Replace(env["STORAGE_URL"], good.Bucket, "no-existe", 1)
		}, false, `bucket "no-existe" does not exist`},
		{"refused credentials", func(env map[string]string) { env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret" }, false, "storage unavailable"},
		{"unreachable", func(env map[string]string) {
			env["STORAGE_URL"] = fmt.Sprintf("s3://%s?endpoint=http://%s&path_style=true", good.Bucket, closed)
			env["REQUEST_TIMEOUT"] = "1s"
		}, false, "storage unavailable"},
		{"bad parameter", func(env map[string]string) {
			env["STORAGE_URL"] = strings.Replace(env["STORAGE_URL"], "path_style=true", "path_style=quizas", 1)
		}, true, "path_style"},
		{"half the credentials", func(env map[string]string) { delete(env, "AWS_SECRET_ACCESS_KEY") }, true, "AWS_SECRET_ACCESS_KEY"},
	}
	for _, tc := range cases {
		env := s3Env(good, dbURL)
		env["HTTP_ADDR"] = freeAddr(t)
		tc.edit(env)
		// A serve that started anyway is stopped, and the case fails.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, []string{"serve"}, envOf(env), io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line containing %q", tc.name, err, tc.want)
			continue
		}
		if errors.Is(err, errUsage) != tc.wantUsage {
			t.Errorf("%s: usage error %v, want %v", tc.name, errors.Is(err, errUsage), tc.wantUsage)
		}
		if !tc.wantUsage && !strings.HasPrefix(err.Error(), "STORAGE_URL: ") {
			t.Errorf("%s: got %q, want it to start with STORAGE_URL", tc.name, err)
		}
	}
}

// A folder store moves into a bucket by a plain mirror of its files (the
// keys are the same): after switching STORAGE_URL a dry run finds nothing
// to do, and serve answers every image from the bucket.
func TestMirrorFolderIntoBucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, dbURL := dbtest.New(t)
	dir := t.TempDir()
	files, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	if err := files.WriteMarker(); err != nil {
		t.Fatal(err)
	}
	store := repo.New(pool)
	cat := catalog.New(trash.New(store, files, zap.NewNop()), files, nil)
	var urls []string
	for i := 0; i < 4; i++ {
		st, err := files.Stage(bytes.NewReader(append([]byte("\x89PNG\r\n\x1a\n"), byte(i))), 1<<20, []string{"image/png"})
		if err != nil {
			t.Fatal(err)
		}
		img, err := cat.Upload(ctx, st, repo.NuevaImagen{Orden: 1, OwnerSub: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, img.URL)
		if i == 3 {
			if _, err := cat.DeleteImagen(ctx, img.ID, repo.All, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The mirror: every file below the folder, staging left out.
	o := s3test.Bucket(t)
	s, err := objstore.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mirrored := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, ".tmp") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mirrored++
		_, err = s.Client().PutObject(ctx, o.Bucket, filepath.ToSlash(rel), bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
		return err
	})
	if err != nil || mirrored != 5 { // 3 live, 1 trash, the marker
		t.Fatalf("mirror: %v, %d files, want 5", err, mirrored)
	}

	env := s3Env(o, dbURL)
	var out bytes.Buffer
	if err := run(ctx, []string{"janitor", "--once", "--dry-run", "--json"}, envOf(env), &out, io.Discard); err != nil {
		t.Fatalf("dry run on the bucket: %v (%s)", err, out.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"recovered", "purged", "orphans", "unattached", "dangling", "adopted", "trash_missing"} {
		if n, _ := rep[k].(float64); n != 0 {
			t.Errorf("dry run after the mirror: %s = %v, want nothing to do (%s)", k, rep[k], out.String())
		}
	}
	env["HTTP_ADDR"] = freeAddr(t)
	sigterm, wait := serveInBackground(t, env)
	for _, u := range urls[:3] {
		res, err := http.Get("http://" + env["HTTP_ADDR"] + u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("ETag") == "" {
			t.Errorf("GET %s from the bucket: %d (ETag %q), want 200 with an ETag", u, res.StatusCode, res.Header.Get("ETag"))
		}
	}
	sigterm()
	if err := wait(); err != nil {
		t.Errorf("serve: %v", err)
	}
}
