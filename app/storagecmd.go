package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/imagenes/imagenes/internal/objstore"
)

const storageUsage = `usage: imagenes storage mirror --from file:///PATH --to 's3://BUCKET[/PREFIX]?endpoint=…&region=…&path_style=…' [--delete] [--dry-run] [--json]

Copies a storage folder into a bucket, key for key (the layout is the same):
live, trash and thumbnail files and, last, the marker. Staged uploads (.tmp/),
thumbnails of no live image and files imagenes does not serve stay behind.
An object already in the bucket with the same bytes is not copied again.
--delete also removes the bucket's objects the folder no longer has (the
second run, with writers stopped). Credentials: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, as for serve.
`

// storageCmd: imagenes storage mirror. Its own tool rather than a generic
// one (mc mirror, aws s3 sync, rclone sync): it takes the same STORAGE_URL
// and credentials as serve, knows what a bucket must not get (staging,
// stale thumbnails) and writes the marker last, and PUTs each object whole
// so its ETag is the MD5 the protocol compares.
func storageCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "mirror" {
		fmt.Fprint(stderr, storageUsage)
		return fmt.Errorf("%w: storage: want the mirror subcommand", errUsage)
	}
	fs := flag.NewFlagSet("storage mirror", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the storage folder, file:///absolute/path")
	to := fs.String("to", "", "the bucket, s3://BUCKET[/PREFIX]?endpoint=…&region=…&path_style=…")
	del := fs.Bool("delete", false, "remove the bucket's objects the folder no longer has")
	dry := fs.Bool("dry-run", false, "report what would be copied and removed, change nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", time.Minute, "time limit of one request to the bucket (a PUT of one file)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: storage mirror: %w", errUsage, err)
	}
	fu, err := url.Parse(*from)
	if err != nil || fu.Scheme != "file" || fu.Host != "" || fu.Path == "" || fu.Path[0] != '/' {
		return fmt.Errorf("%w: storage mirror: --from %q is not file:///absolute/path", errUsage, *from)
	}
	o, err := objstore.ParseURL(*to)
	if err != nil {
		return fmt.Errorf("%w: storage mirror: --to: %w", errUsage, err)
	}
	o.AccessKey, o.SecretKey, o.SessionToken = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return fmt.Errorf("%w: storage mirror: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither", errUsage)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: storage mirror: --timeout must be positive", errUsage)
	}
	o.Timeout = *timeout
	s, err := objstore.Open(ctx, o)
	if err != nil {
		return fmt.Errorf("storage mirror: --to: %w", err)
	}
	defer s.Close()
	note := func(what, key string) { fmt.Fprintf(stderr, "%s: %s\n", what, key) }
	rep, err := s.MirrorFrom(ctx, fu.Path, objstore.MirrorOptions{Delete: *del, DryRun: *dry}, note)
	if err != nil {
		return fmt.Errorf("storage mirror: %w", err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	suffix := ""
	if *dry {
		suffix = " (dry run: nothing changed)"
	}
	fmt.Fprintf(stdout, "mirror: copied %d (%d bytes), unchanged %d, removed %d; left behind: staging %d, stale thumbnails %d, not served %d, refused names %d%s\n",
		rep.Copied, rep.CopiedBytes, rep.Unchanged, rep.Removed, rep.Staging, rep.StaleThumbs, rep.Other, rep.Unsafe, suffix)
	return nil
}
