package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// translate maps every error to its sentinel, and never panics on a
// PostgreSQL error whose SQLSTATE is short or missing (a proxy or pooler
// in front of PostgreSQL may send one).
func TestTranslate(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	tests := []struct {
		name string
		err  error
		want error // nil: no sentinel, the error itself is returned
	}{
		{name: "no rows", err: pgx.ErrNoRows, want: ErrNotFound},
		{name: "foreign key", err: pg("23503"), want: ErrForeignKey},
		{name: "unique", err: pg("23505"), want: ErrConflict},
		{name: "too long", err: pg("22001"), want: ErrInvalid},
		{name: "admin shutdown", err: pg("57P01"), want: ErrUnavailable},
		{name: "connection failure", err: pg("08006"), want: ErrUnavailable},
		{name: "deadlock", err: pg("40P01"), want: ErrUnavailable},
		{name: "serialization failure", err: pg("40001"), want: ErrUnavailable},
		{name: "syntax error", err: pg("42601")},
		{name: "empty sqlstate", err: pg("")},
		{name: "one-character sqlstate", err: pg("2")},
		{name: "two-character sqlstate", err: pg("23"), want: ErrConflict},
		{name: "canceled", err: context.Canceled},
		{name: "disk full", err: pg("53100"), want: ErrUnavailable},
		{name: "fatal, any code", err: fmt.Errorf("q: %w", &pgconn.PgError{Severity: "FATAL", Code: "XX000"}), want: ErrUnavailable},
		{name: "server gone mid-answer", err: fmt.Errorf("q: %w", io.ErrUnexpectedEOF), want: ErrUnavailable},
		{name: "connection reset", err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, want: ErrUnavailable},
		{name: "broken pipe", err: fmt.Errorf("write failed: %w", syscall.EPIPE), want: ErrUnavailable},
		{name: "conn closed", err: fmt.Errorf("q: %w", pgconn.ErrConnClosed), want: ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := translate(tc.err)
			if !errors.Is(got, tc.err) && !(tc.want == ErrNotFound && got == ErrNotFound) {
				t.Errorf("got %v, want the original error kept in the chain", got)
			}
			for _, s := range []error{ErrNotFound, ErrConflict, ErrForeignKey, ErrInvalid, ErrUnavailable} {
				if is, want := errors.Is(got, s), s == tc.want || (tc.want == ErrForeignKey && s == ErrConflict); is != want {
					t.Errorf("got errors.Is(%v) = %v, want %v", s, is, want)
				}
			}
		})
	}
}
