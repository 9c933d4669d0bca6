package catalog

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/dbtest"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// BenchmarkDeleteBatch: one coalesced batch of 32 deletes (what 32 callers
// at once make), and of one (a delete alone), on the real database and
// folder — its statements, moves and commit — per op; the images are made
// before the timer starts.
//
//	go test -run '^$' -bench DeleteBatch -benchtime 200x ./internal/catalog/
func BenchmarkDeleteBatch(b *testing.B) {
	for _, size := range []int{1, 32} {
		b.Run(fmt.Sprint(size), func(b *testing.B) { benchmarkDeleteBatch(b, size) })
	}
}

func benchmarkDeleteBatch(b *testing.B, size int) {
	store, _ := dbtest.NewStore(b)
	root := b.TempDir()
	files, err := storage.Open(root)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { files.Close() })
	svc := New(trash.New(store, files, zap.NewNop()), files, nil)
	ids, _ := dbtest.Images(b, store, root, make([]string, b.N*size), nil)
	ctx := context.Background()
	calls := make([]*deleteCall, size)
	for i := range calls {
		calls[i] = &deleteCall{ctx: ctx, done: make(chan deleteResult, 1)}
	}
	b.ResetTimer()
	for n := range b.N {
		for i, c := range calls {
			c.req = repo.DeleteRequest{ID: ids[n*size+i], Scope: repo.All, DeletedBy: "bench"}
		}
		svc.deleteBatch(ctx, calls)
		for _, c := range calls {
			if r := <-c.done; r.err != nil {
				b.Fatal(r.err)
			}
		}
	}
}
