package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pipelinedTx is a transaction on one pooled connection whose BEGIN is not
// sent on its own: it goes out in the same pipeline as the transaction's
// first statement. A delete is then two round trips (BEGIN+DELETE, COMMIT)
// instead of three, which on a machine where the server, PostgreSQL and the
// clients share two cores is the largest single cost we can remove.
//
// It implements DBTX for the Store that WithTx hands to fn.
type pipelinedTx struct {
	conn  *pgxpool.Conn
	begun bool // BEGIN has been sent
}

func (t *pipelinedTx) batch(ctx context.Context, sql string, args []any) pgx.BatchResults {
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(sql, args...)
	t.begun = true
	return t.conn.SendBatch(ctx, b)
}

// Exec runs sql in the transaction.
func (t *pipelinedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.begun {
		return t.conn.Exec(ctx, sql, args...)
	}
	br := t.batch(ctx, sql, args)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, errors.Join(err, br.Close())
}

// Query runs sql in the transaction. For the first statement the rows come
// out of the pipeline; closing them closes the pipeline.
func (t *pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.begun {
		return t.conn.Query(ctx, sql, args...)
	}
	br := t.batch(ctx, sql, args)
	_, _ = br.Exec() // BEGIN: pgx hands its error to the rows below
	rows, err := br.Query()
	return &batchRows{Rows: rows, br: br}, err
}

// QueryRow runs sql in the transaction and returns its one row.
func (t *pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, _ := t.Query(ctx, sql, args...)
	return rowFromRows{rows}
}

// SendBatch runs the batch's statements in the transaction, one after the
// other, each with its own snapshot; the first batch carries the BEGIN.
func (t *pipelinedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.begun {
		return t.conn.SendBatch(ctx, b)
	}
	nb := &pgx.Batch{}
	nb.Queue("begin")
	nb.QueuedQueries = append(nb.QueuedQueries, b.QueuedQueries...)
	t.begun = true
	br := t.conn.SendBatch(ctx, nb)
	_, _ = br.Exec() // BEGIN: pgx hands its error to the results below
	return br
}

// Begin would nest a transaction; nothing in imagenes does.
func (t *pipelinedTx) Begin(context.Context) (pgx.Tx, error) {
	return nil, errors.New("nested transactions are not supported")
}

// CopyFrom runs COPY in the transaction (after an explicit BEGIN).
func (t *pipelinedTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if !t.begun {
		if _, err := t.conn.Exec(ctx, "begin"); err != nil {
			return 0, err
		}
		t.begun = true
	}
	return t.conn.CopyFrom(ctx, table, cols, src)
}

// commit ends the transaction. PostgreSQL answers COMMIT of a transaction
// that already failed with the tag ROLLBACK and no error: that is a refusal
// too.
func (t *pipelinedTx) commit(ctx context.Context) error {
	if !t.begun {
		return nil // fn ran no statement: nothing to commit
	}
	if err := commitNotSent(ctx); err != nil {
		return err // rolled back by withPipelinedTx
	}
	tag, err := t.conn.Exec(ctx, "commit")
	if err != nil {
		return commitError(err)
	}
	if tag.String() == "ROLLBACK" {
		return &wrapped{sentinel: ErrCommitRefused, err: pgx.ErrTxCommitRollback}
	}
	return nil
}

// rollback ends a transaction that fn failed. A connection that cannot roll
// back is closed, so the pool never hands out one inside a transaction.
func (t *pipelinedTx) rollback(ctx context.Context) {
	if !t.begun || t.conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	if _, err := t.conn.Exec(ctx, "rollback"); err != nil {
		_ = t.conn.Conn().Close(ctx)
	}
}

// withPipelinedTx is WithTx on a pool.
func withPipelinedTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx *Store) error) (err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", translate(err))
	}
	t := &pipelinedTx{conn: conn}
	defer func() {
		if err != nil {
			t.rollback(context.WithoutCancel(ctx))
		}
		// A connection left inside a transaction (a commit that got no
		// answer) is closed rather than returned to the pool.
		if conn.Conn().PgConn().TxStatus() != 'I' {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
		conn.Release()
	}()
	if err := fn(&Store{db: t}); err != nil {
		return err
	}
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// batchRows are the rows of a pipeline's last statement; closing them
// closes the pipeline so the connection can be used again.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// rowFromRows is pgx.Row over rows: Scan reads the first row, then closes.
type rowFromRows struct{ rows pgx.Rows }

func (r rowFromRows) Scan(dest ...any) error {
	rows := r.rows
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}
