package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors. Everything this package returns wraps one of them or is
// an unexpected database error (a 500 upstream).
var (
	// ErrNotFound: no row matched (or the caller may not see it).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a constraint said no (unique or foreign key).
	ErrConflict = errors.New("conflict")
	// ErrForeignKey: a referenced row does not exist (also an ErrConflict).
	ErrForeignKey = fmt.Errorf("referenced row missing: %w", ErrConflict)
	// ErrInvalid: PostgreSQL refused a value (out of range, too long).
	ErrInvalid = errors.New("invalid value")
	// ErrCommitRefused: PostgreSQL answered the COMMIT with an error, so the
	// transaction certainly did not happen. A commit that failed in any other
	// way (connection lost) may or may not have happened.
	ErrCommitRefused = errors.New("commit refused")
	// ErrCommitUnknown: the COMMIT was sent but no answer came back (the
	// connection broke). Only PostgreSQL knows whether it happened; callers
	// must not undo side effects on disk and leave that to the janitor.
	ErrCommitUnknown = errors.New("commit outcome unknown")
	// ErrCommitNotSent: the COMMIT was never sent (the context had ended
	// before it: checked by us, not by pgconn.SafeToRetry), so the transaction did
	// not happen — it is rolled back — and its side effects are undone
	// like a refused commit's. It comes wrapped with ErrUnavailable (a 503
	// try-again), never with ErrCommitUnknown.
	ErrCommitNotSent = errors.New("commit never sent")
	// ErrUnavailable: the database could not be reached, or broke the
	// transaction off for a reason a retry clears (a deadlock).
	ErrUnavailable = errors.New("database unavailable")
)

// translate maps pgx and PostgreSQL errors to the sentinels, keeping the
// original in the chain for logs.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "23503" { // foreign_key_violation
			return &wrapped{sentinel: ErrForeignKey, err: err}
		}
		switch sqlstateClass(pgErr.Code) {
		case "23": // integrity constraint violation
			return &wrapped{sentinel: ErrConflict, err: err}
		case "22": // data exception: out of range, too long, bad syntax
			return &wrapped{sentinel: ErrInvalid, err: err}
		case "08", "57", "53": // connection exception, operator intervention (shutdown), insufficient resources
			return &wrapped{sentinel: ErrUnavailable, err: err}
		case "40": // transaction rollback: deadlock, serialization failure
			// PostgreSQL broke the transaction off so another could go on;
			// the same request again may well pass: a 503 says so, where a
			// 500 said the service was broken.
			return &wrapped{sentinel: ErrUnavailable, err: err}
		}
		if pgErr.Severity == "FATAL" || pgErr.Severity == "PANIC" {
			// The server ended the session, whatever the code says.
			return &wrapped{sentinel: ErrUnavailable, err: err}
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if pgconn.SafeToRetry(err) || isConnError(err) || isBrokenConn(err) {
		return &wrapped{sentinel: ErrUnavailable, err: err}
	}
	return err
}

// sqlstateClass is a SQLSTATE's class (its first two characters), or ""
// for a code too short to have one: a proxy or a test double may send an
// error without a proper code, and that must not panic.
func sqlstateClass(code string) string {
	if len(code) < 2 {
		return ""
	}
	return code[:2]
}

// commitNotSent is the error of a COMMIT not sent because ctx had ended
// before it: the transaction is rolled back, so it did not happen, and the
// moves made for it are undone — reported as unknown, the moved files
// stayed in the trash while the rows stayed live, for the janitor.
func commitNotSent(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &wrapped{sentinel: ErrCommitNotSent, err: &wrapped{sentinel: ErrUnavailable, err: err}}
	}
	return nil
}

// commitError classifies a failed COMMIT. PostgreSQL answering with an
// error (a deferred constraint, serialization failure) or pgx reporting that
// the commit turned into a rollback means the transaction did not happen.
func commitError(err error) error {
	// A FATAL answer (the backend being terminated, the server shutting
	// down) may come after the commit record was written, so only an ERROR
	// proves the transaction did not happen.
	var pgErr *pgconn.PgError
	if (errors.As(err, &pgErr) && pgErr.Severity == "ERROR") || errors.Is(err, pgx.ErrTxCommitRollback) {
		return &wrapped{sentinel: ErrCommitRefused, err: err}
	}
	// pgconn.SafeToRetry does not prove a COMMIT never reached the server:
	// a COMMIT the server carried out whose answer the connection lost came
	// back from pgx as "conn closed", safe to retry (TestCommitAnswerLost),
	// and undoing its moves put a deleted image back in public. Only
	// notSent, checked before the COMMIT is written, knows that.
	return &wrapped{sentinel: ErrCommitUnknown, err: translate(err)}
}

func isConnError(err error) bool {
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr)
}

// isBrokenConn reports whether err is a connection that broke under a
// statement: the server went away mid-answer (pgx reads io.ErrUnexpectedEOF),
// the socket failed (a *net.OpError: connection reset, broken pipe), pgx had
// already closed the connection.
// Such a statement was sent, so pgconn.SafeToRetry says no, but it is an
// outage all the same: a 503, not the 500 of a bug (PostgreSQL stopped
// under load gave both, issue 23).
func isBrokenConn(err error) bool {
	var opErr *net.OpError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &opErr)
}

// wrapped makes errors.Is match both the sentinel and the original error.
type wrapped struct {
	sentinel error
	err      error
}

func (w *wrapped) Error() string   { return w.sentinel.Error() + ": " + w.err.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.sentinel, w.err} }
