package repo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
)

// A Scope fails closed: the zero Scope (an owner lost on the way) reads,
// lists and deletes nothing; only the explicit All sees every image; an
// owner sees their own. Each case runs in a transaction rolled back, over
// the same three rows: ana's, bea's, and a Balsamoa row with no owner.
func TestScopeFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := dbtest.New(t)
	store := repo.New(pool)
	ids := map[string]int32{}
	for _, owner := range []string{"ana", "bea", ""} {
		img, err := store.InsertImagen(ctx, repo.NuevaImagen{URL: "/recursos/imagenes/productos/" + owner + "x.png", Orden: 1, OwnerSub: owner})
		if err != nil {
			t.Fatal(err)
		}
		ids[owner] = img.ID
	}
	all := []int32{ids["ana"], ids["bea"], ids[""]}
	tests := []struct {
		name  string
		scope repo.Scope
		want  []int32 // the ids the scope reads, lists and deletes
	}{
		{name: "empty scope", scope: repo.Scope{}, want: nil},
		{name: "empty owner", scope: repo.Scope{Owner: ""}, want: nil},
		{name: "all", scope: repo.All, want: all},
		{name: "owner", scope: repo.Scope{Owner: "ana"}, want: []int32{ids["ana"]}},
		{name: "owner of nothing", scope: repo.Scope{Owner: "carla"}, want: nil},
	}
	for _, tc := range tests {
		// The cases run one after another: each holds the three rows' locks
		// in its transaction, and TrashRequested skips rows another
		// transaction holds (busy) instead of waiting for them, so cases
		// side by side would see each other's rows as busy.
		t.Run(tc.name, func(t *testing.T) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx) //nolint:errcheck // the case's changes are thrown away
			s := repo.New(tx)
			want := map[int32]bool{}
			for _, id := range tc.want {
				want[id] = true
			}
			for _, id := range all {
				_, err := s.GetImagen(ctx, id, tc.scope)
				if got := err == nil; got != want[id] {
					t.Errorf("GetImagen(%d): got seen=%v (%v), want %v", id, got, err, want[id])
				}
				if err != nil && !errors.Is(err, repo.ErrNotFound) {
					t.Errorf("GetImagen(%d): got %v, want ErrNotFound", id, err)
				}
			}
			for owner, id := range ids {
				var o *string
				if owner != "" {
					o = &owner
				}
				if got := tc.scope.Allows(o); got != want[id] {
					t.Errorf("Allows(%q): got %v, want %v", owner, got, want[id])
				}
			}
			listed, err := s.ListImagenes(ctx, repo.ImagenFilter{Scope: tc.scope, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(listed) != len(tc.want) {
				t.Errorf("ListImagenes: got %d images, want %d", len(listed), len(tc.want))
			}
			for _, img := range listed {
				if !want[img.ID] {
					t.Errorf("ListImagenes: got image %d, outside the scope", img.ID)
				}
			}
			// Coalesced deletes (one request per image) follow the same rule;
			// rolled back to a savepoint so the plain delete below sees the rows.
			if _, err := tx.Exec(ctx, "SAVEPOINT requested"); err != nil {
				t.Fatal(err)
			}
			var rs []repo.DeleteRequest
			for _, id := range all {
				rs = append(rs, repo.DeleteRequest{ID: id, Scope: tc.scope, DeletedBy: "test"})
			}
			if es, busy, err := s.TrashRequested(ctx, rs, repo.MotivoImagen); err != nil || len(es) != len(tc.want) || len(busy) != 0 {
				t.Errorf("TrashRequested: got %d entries, %d busy (%v), want %d and none busy", len(es), len(busy), err, len(tc.want))
			}
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT requested"); err != nil {
				t.Fatal(err)
			}
			es, err := s.TrashImagenes(ctx, all, tc.scope, repo.MotivoImagen, "test")
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != len(tc.want) {
				t.Errorf("TrashImagenes: got %d entries, want %d", len(es), len(tc.want))
			}
			var left int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM producto_imagenes`).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != len(all)-len(tc.want) {
				t.Errorf("got %d rows left, want %d", left, len(all)-len(tc.want))
			}
		})
	}
}
