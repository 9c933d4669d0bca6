package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/objstore"
	"github.com/imagenes/imagenes/internal/s3test"
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
