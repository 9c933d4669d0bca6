package janitor

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows what a pass is doing on a terminal: the step and how many
// files and rows it has looked at. Totals are unknown (counting first would
// double the work), so it is a counter with a rate, not a percentage. A nil
// writer makes every method a no-op.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

func (p *progress) step(name string) {
	if p.w == nil {
		return
	}
	p.finish()
	p.bar = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("janitor: "+name),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("items"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
	)
}

func (p *progress) add(n int) {
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}

func (p *progress) done() { p.finish() }
