// Package repo holds all SQL of imagenes: the pgx pool, transactions, image
// rows, trash entries and products. pgx and PostgreSQL error codes are
// translated here into the sentinel errors below, so nothing above this
// package imports pgconn. This package never logs.
package repo

import (
	"context"
	"fmt"
	"runtime"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what both *pgxpool.Pool and pgx.Tx offer, so one Store type
// serves inside and outside a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Store runs queries on a pool or, inside WithTx, on one transaction.
type Store struct {
	db DBTX
}

// New returns a Store over db.
func New(db DBTX) *Store {
	return &Store{db: db}
}

// WithTx runs fn in a transaction: commit if fn returns nil, else roll back.
// The error of a commit that PostgreSQL refused wraps ErrCommitRefused, so
// that callers can tell "did not happen" from "outcome unknown".
func (s *Store) WithTx(ctx context.Context, fn func(tx *Store) error) error {
	if pool, ok := s.db.(*pgxpool.Pool); ok {
		return withPipelinedTx(ctx, pool, fn)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", translate(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if err := fn(&Store{db: tx}); err != nil {
		return err
	}
	if err := commitNotSent(ctx); err != nil {
		return fmt.Errorf("commit: %w", err) // rolled back by the deferred Rollback
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", commitError(err))
	}
	return nil
}

// OpenPool connects to PostgreSQL and checks the connection.
func OpenPool(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns <= 0 {
		// pgx's default, max(4, cores), starves PostgreSQL's group commit:
		// with 32 clients on 2 cores, 4 connections gave 1 430 deletes/s
		// and 8 gave 1 630–1 740 (p99 39 → 41–43 ms). More did not help.
		maxConns = 4 * runtime.GOMAXPROCS(0)
	}
	cfg.MaxConns = int32(maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", translate(err))
	}
	return nil
}
