// Command imagenes keeps the product images of a shop catalogue: uploads,
// serving, attaching to products, and deleting them through a transactional
// trash that a janitor purges and reconciles. This package is the one
// composition root: it reads the configuration, builds every dependency and
// passes it down.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// errUsage marks errors that are the caller's fault: exit code 2.
var errUsage = errors.New("usage")

const usage = `imagenes — product images with a transactional trash

usage:
  imagenes serve                 run the HTTP API (and the janitor when JANITOR_ENABLED=true)
  imagenes janitor [--once] [--dry-run] [--json] [--repair-dangling] [--force] [--cpuprofile FILE]
  imagenes migrate up|status     apply or list database migrations
  imagenes token --sub S [--role admin] [--ttl 1h]   mint an HS256 token with JWT_SECRET
  imagenes storage mirror --from file:///PATH --to s3://BUCKET[/PREFIX]?… [--delete] [--dry-run]
                                 copy a storage folder into a bucket (README: moving a folder into a bucket)
  imagenes version
  imagenes healthcheck [--path /healthz]   exit 0 when the local server answers 200 (container HEALTHCHECK)
  imagenes seed [--n N] [--bytes B] [--orphans O] [--dangling D]   fill a database for benchmarks

Every setting is an environment variable and a flag (run 'imagenes serve --help').
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagenes:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run dispatches a subcommand. Only main exits.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no subcommand", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stderr)
	case "janitor":
		return janitorCmd(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, rest, getenv, stdout)
	case "healthcheck":
		return healthcheckCmd(ctx, rest, getenv, stdout)
	case "seed":
		return seedCmd(ctx, rest, getenv, stdout, stderr)
	case "token":
		return tokenCmd(rest, getenv, stdout)
	case "storage":
		return storageCmd(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "imagenes", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown subcommand %q", errUsage, cmd)
}
