package janitor

import (
	"context"

	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/trash"
)

// txNotes are the log lines a transaction of the pass wrote, held until it
// commits.
type txNotes struct {
	lines []func()
}

// inTx runs fn in one transaction of the protocol, and the report counts,
// lists and logs what fn did only once it has committed: a transaction
// that fails — a storage error, a refused or unknown COMMIT, a file gone
// since it was listed — undoes its moves, and a report or a log line that
// named them then would say the janitor did what it did not. What fn saw
// but did not change (files and rows scanned) stays counted.
func (p *pass) inTx(ctx context.Context, fn func(tx *trash.Tx) error) error {
	saved := *p.rep
	lens := make(map[string]int, len(p.rep.Items))
	for k, items := range p.rep.Items {
		lens[k] = len(items)
	}
	listed := p.listed
	notes := &txNotes{}
	p.notes = notes
	err := p.proto.Run(ctx, fn)
	p.notes = nil
	if err != nil {
		items, files, rows := p.rep.Items, p.rep.FilesScanned, p.rep.RowsScanned
		*p.rep = saved
		p.rep.FilesScanned, p.rep.RowsScanned = files, rows
		for k := range items {
			items[k] = items[k][:lens[k]]
			if lens[k] == 0 {
				delete(items, k)
			}
		}
		if p.rep.Items == nil && len(items) > 0 {
			p.rep.Items = items
		}
		p.listed = listed
		return err
	}
	for _, line := range notes.lines {
		line()
	}
	return nil
}

// info logs at Info now, or, inside inTx, once the transaction commits.
func (p *pass) info(msg string, fields ...zap.Field) {
	if p.notes != nil {
		p.notes.lines = append(p.notes.lines, func() { p.log.Info(msg, fields...) })
		return
	}
	p.log.Info(msg, fields...)
}
