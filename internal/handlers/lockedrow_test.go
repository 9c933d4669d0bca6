package handlers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Single deletes beside one whose row another database session holds (a
// long product edit, a migration, a backup tool): every free delete is a
// 200 while the session still holds the row; the held one is a 200 once the
// session lets go within its deadline, or the 503 of its deadline in its
// family's shape, with its row and file as they were (issue 23: one held
// row gave every delete coalesced with it a 503 after 35 s). The order of
// events decides, not the clock: the session lets go only after the free
// deletes have answered (and, in the second case, the held one too).
func TestDeletesBesideAHeldRow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration // REQUEST_TIMEOUT
		// expires: the held delete's deadline comes while the row is held.
		expires bool
	}{
		{name: "released within the held delete's deadline", timeout: time.Minute},
		{name: "held past the held delete's deadline", timeout: 3 * time.Second, expires: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{requestTimeout: tt.timeout})
			const free = 8
			held, heldURL := e.upload(pngBytes)
			var ids []int
			for range free {
				id, _ := e.upload(pngBytes)
				ids = append(ids, id)
			}
			heldCat := e.uploadCat(e.alice, pngBytes) // the Cat family's shape too
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			conn, err := pgx.ConnectConfig(ctx, e.pool.Config().ConnConfig)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background()) //nolint:errcheck // released below, or the test failed
			if _, err := tx.Exec(ctx, `SELECT 1 FROM producto_imagenes WHERE id = ANY($1) FOR UPDATE`, []int{held, heldCat}); err != nil {
				t.Fatal(err)
			}
			type answer struct {
				got resp
				err error
				cat bool // a Cat route: its body is {"error"}
			}
			heldAns := make(chan answer, 2)
			go func() {
				got, err := e.try(req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/imagenes/%d", held), token: e.admin})
				heldAns <- answer{got, err, false}
			}()
			go func() {
				got, err := e.try(req{method: "DELETE", path: fmt.Sprintf("/api/image/%d", heldCat), token: e.alice})
				heldAns <- answer{got, err, true}
			}()
			freeAns := make(chan answer, free)
			for _, id := range ids {
				go func() {
					got, err := e.try(req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/imagenes/%d", id), token: e.admin})
					freeAns <- answer{got, err, false}
				}()
			}
			for range free {
				select {
				case a := <-freeAns:
					if a.err != nil || a.got.status != 200 {
						t.Errorf("a free delete: got %d %s (%v), want 200", a.got.status, a.got.body, a.err)
					}
				case <-ctx.Done():
					t.Fatal("the free deletes did not all answer while the row was held")
				}
			}
			var answers []answer
			if tt.expires {
				for range 2 {
					select {
					case a := <-heldAns:
						answers = append(answers, a)
					case <-ctx.Done():
						t.Fatal("a held delete did not answer at its deadline")
					}
				}
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if !tt.expires {
				for range 2 {
					select {
					case a := <-heldAns:
						answers = append(answers, a)
					case <-ctx.Done():
						t.Fatal("a held delete did not answer after the release")
					}
				}
			}
			for _, a := range answers {
				if a.err != nil {
					t.Fatal(a.err)
				}
				switch {
				case !tt.expires && a.got.status/100 != 2:
					t.Errorf("a held delete after the release: got %d %s, want 2xx", a.got.status, a.got.body)
				case tt.expires && a.got.status != 503:
					t.Errorf("a held delete past its deadline: got %d %s, want 503", a.got.status, a.got.body)
				case tt.expires:
					key := "mensaje"
					if a.cat {
						key = "error"
					}
					if m := a.got.json(t); len(m) != 1 || m[key] == nil {
						t.Errorf("503 body %s: want only %q", a.got.body, key)
					}
				}
			}
			// A timed-out delete's statement may still be waiting in
			// PostgreSQL: once the rows can be taken it has ended (its
			// COMMIT is never sent).
			if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `SELECT 1 FROM producto_imagenes WHERE id = ANY($1) FOR UPDATE`, []int{held, heldCat})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			for _, id := range []int{held, heldCat} {
				if e.rowExists(id) != tt.expires {
					t.Errorf("held image %d: row exists=%v, want %v", id, e.rowExists(id), tt.expires)
				}
			}
			if tt.expires && !e.live(heldURL) {
				t.Error("the held image's file left although its delete answered 503")
			}
			for _, id := range ids {
				if e.rowExists(id) {
					t.Errorf("free image %d still there", id)
				}
			}
			e.checkConsistent()
		})
	}
}
