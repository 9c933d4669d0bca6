package repo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/imagenes/imagenes/migrations"
)

// versionTable is tern's bookkeeping table. Its name is ours so that it
// cannot collide with anything Balsamoa created.
const versionTable = "imagenes_schema_version"

// MigrationStatus says where the schema stands.
type MigrationStatus struct {
	Current int32
	Latest  int32
	Pending []string
}

func newMigrator(ctx context.Context, pool *pgxpool.Pool, fn func(*migrate.Migrator) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire: %w", translate(err))
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), versionTable)
	if err != nil {
		return fmt.Errorf("new migrator: %w", err)
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	return fn(m)
}

// Migrate applies every pending migration. tern holds an advisory lock while
// it works, so several processes starting at once migrate once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return newMigrator(ctx, pool, func(m *migrate.Migrator) error {
		if err := m.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
}

// Status reports the applied and pending migrations.
func Status(ctx context.Context, pool *pgxpool.Pool) (MigrationStatus, error) {
	var st MigrationStatus
	err := newMigrator(ctx, pool, func(m *migrate.Migrator) error {
		v, err := m.GetCurrentVersion(ctx)
		if err != nil {
			return fmt.Errorf("current version: %w", err)
		}
		st.Current = v
		st.Latest = int32(len(m.Migrations))
		for _, mg := range m.Migrations {
			if mg.Sequence > v {
				st.Pending = append(st.Pending, mg.Name)
			}
		}
		return nil
	})
	return st, err
}
