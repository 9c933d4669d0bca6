package catalog

import (
	"context"
	"testing"

	"github.com/imagenes/imagenes/internal/repo"
)

// BenchmarkCoalescerHandoff: what queueing a delete, handing it to a batch
// and getting its answer back costs, the batch itself doing nothing —
// 32 callers at once, as make bench drives the service — with a call
// allocated per delete (as before) and taken from the pool.
//
//	go test -run '^$' -bench CoalescerHandoff -benchmem ./internal/catalog/
func BenchmarkCoalescerHandoff(b *testing.B) {
	for _, bb := range []struct {
		name string
		get  func(repo.DeleteRequest) *deleteCall
		put  func(*deleteCall)
	}{
		{"fresh", func(r repo.DeleteRequest) *deleteCall {
			return &deleteCall{ctx: context.Background(), req: r, done: make(chan deleteResult, 1)}
		}, func(*deleteCall) {}},
		{"pooled", func(r repo.DeleteRequest) *deleteCall { return newCall(context.Background(), r) }, putCall},
	} {
		b.Run(bb.name, func(b *testing.B) {
			q := &coalescer{run: func(_ context.Context, batch []*deleteCall) {
				for _, c := range batch {
					c.done <- deleteResult{entry: repo.Entrada{ID: int64(c.req.ID)}}
				}
			}}
			b.SetParallelism(16) // 32 callers on this 2-core machine
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for id := int32(1); pb.Next(); id++ {
					c := bb.get(repo.DeleteRequest{ID: id, Scope: repo.All})
					if r := q.do(c); r.entry.ID != int64(id) {
						b.Errorf("got entry %d, want %d", r.entry.ID, id)
					}
					bb.put(c)
				}
			})
		})
	}
}
