package repo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
)

// A deadlock PostgreSQL breaks is a 503 (try again), not a 500: two
// transactions lock two rows in opposite orders on a real server, and the
// one PostgreSQL aborts gets 40P01, which translate maps to ErrUnavailable.
// (A restore beside a product write once deadlocked this way, 8286842.)
func TestDeadlockIsUnavailable(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE cerrojos (id int PRIMARY KEY); INSERT INTO cerrojos VALUES (1), (2)`); err != nil {
		t.Fatal(err)
	}
	a, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Rollback(ctx)
	b, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback(ctx)
	lock := `UPDATE cerrojos SET id = id WHERE id = $1`
	if _, err := a.Exec(ctx, lock, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec(ctx, lock, 2); err != nil {
		t.Fatal(err)
	}
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Exec(ctx, lock, 2) // waits for b
		if err != nil {
			_ = a.Rollback(ctx) // lets b go on if a is the one broken off
		}
		aDone <- err
	}()
	_, errB := b.Exec(ctx, lock, 1) // waits for a: a cycle
	if errB != nil {
		_ = b.Rollback(ctx)
	}
	errA := <-aDone
	var broken error
	switch {
	case errA != nil && errB == nil:
		broken = errA
	case errB != nil && errA == nil:
		broken = errB
	default:
		t.Fatalf("want exactly one transaction broken off, got a: %v, b: %v", errA, errB)
	}
	var pgErr *pgconn.PgError
	if !errors.As(broken, &pgErr) || pgErr.Code != "40P01" {
		t.Fatalf("got %v, want PostgreSQL's deadlock_detected (40P01)", broken)
	}
	if got := repo.Translate(broken); !errors.Is(got, repo.ErrUnavailable) {
		t.Errorf("translate(deadlock) = %v, want ErrUnavailable (a 503)", got)
	}
}
