// Package s3test gives each test its own bucket on the test MinIO, removed
// with everything in it when the test ends. Test-only.
//
// The server comes from IMAGENES_TEST_S3_URL (http://KEY:SECRET@HOST:PORT,
// set by `make test`, which starts a throwaway MinIO with
// scripts/minio.sh). Without it a test that needs the bucket fails, saying
// how to get one: it never skips.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/imagenes/imagenes/internal/objstore"
)

// EnvURL names the variable holding the test server's URL.
const EnvURL = "IMAGENES_TEST_S3_URL"

// Server returns the test server's Options (no bucket) or fails the test.
func Server(t testing.TB) objstore.Options {
	t.Helper()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		t.Fatalf("%s is not set: run `make test` (it starts a local MinIO), or export %s=$(scripts/minio.sh start test)", EnvURL, EnvURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" {
		t.Fatalf("%s is not http://KEY:SECRET@HOST:PORT", EnvURL)
	}
	secret, _ := u.User.Password()
	return objstore.Options{
		Endpoint:  u.Scheme + "://" + u.Host,
		Region:    "us-east-1",
		PathStyle: true,
		AccessKey: u.User.Username(),
		SecretKey: secret,
		Timeout:   5 * time.Second,
	}
}

// Bucket creates a fresh bucket and returns its Options; t.Cleanup empties
// and removes it.
func Bucket(t testing.TB) objstore.Options {
	t.Helper()
	o := Server(t)
	o.Bucket = "imagenes-test-" + randomHex(6)
	s, err := objstore.New(o)
	if err != nil {
		t.Fatalf("s3 client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client().MakeBucket(ctx, o.Bucket, minio.MakeBucketOptions{Region: o.Region}); err != nil {
		s.Close()
		t.Fatalf("create test bucket on %s (%s): %v — run `make test`, which starts it", o.Endpoint, EnvURL, err)
	}
	t.Cleanup(func() {
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := s.Client()
		objs := c.ListObjects(ctx, o.Bucket, minio.ListObjectsOptions{Recursive: true})
		for e := range c.RemoveObjects(ctx, o.Bucket, objs, minio.RemoveObjectsOptions{}) {
			t.Errorf("empty test bucket %s: %v", o.Bucket, e.Err)
		}
		if err := c.RemoveBucket(ctx, o.Bucket); err != nil {
			t.Errorf("remove test bucket %s: %v", o.Bucket, err)
		}
	})
	return o
}

// New opens a Store on a fresh bucket (with prefix, when not empty), closed
// when the test ends.
func New(t testing.TB, prefix string) *objstore.Store {
	t.Helper()
	o := Bucket(t)
	o.Prefix = prefix
	s, err := objstore.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open test bucket: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
