package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/imagenes/imagenes/internal/repo"
)

// migrateCmd: `imagenes migrate up` applies pending migrations, `status`
// lists them.
func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) != 1 || (rest[0] != "up" && rest[0] != "status") {
		return fmt.Errorf("%w: migrate: want `migrate up` or `migrate status`", errUsage)
	}
	if err := requireDatabase(cfg); err != nil {
		return err
	}
	pool, err := repo.OpenPool(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if rest[0] == "up" {
		if err := repo.Migrate(ctx, pool); err != nil {
			return err
		}
	}
	st, err := repo.Status(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema version %d of %d", st.Current, st.Latest)
	if len(st.Pending) > 0 {
		fmt.Fprintf(stdout, "; pending: %s", strings.Join(st.Pending, ", "))
	}
	fmt.Fprintln(stdout)
	return nil
}
