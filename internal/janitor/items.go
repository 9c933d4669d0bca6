package janitor

import (
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/repo"
)

// Item is one file or row a pass acted on or, in a dry run, would have.
// A dry run is only worth reading when it names what it means, so every
// step lists its items under the name of the count they add to.
type Item struct {
	URL        string `json:"url"`
	ImagenID   int32  `json:"imagen_id,omitempty"`
	PapeleraID int64  `json:"papelera_id,omitempty"`
	TrashName  string `json:"trash_name,omitempty"`
	Bytes      int64  `json:"bytes,omitempty"`
}

// maxListed bounds how many items one report holds, so that a listing
// keeps the pass's memory bounded; the rest are counted in ItemsOmitted.
const maxListed = 100_000

// The kinds of items, named as the Report's counts they add to.
const (
	kindRecovered  = "recovered"
	kindPurged     = "purged"
	kindOrphans    = "orphans"
	kindUnattached = "unattached"
	kindDangling   = "dangling"
	kindRepaired   = "repaired"
	kindAdopted    = "adopted"
	kindThumbnails = "thumbnails"
	kindStaging    = "staging"
)

// stagingFolder prefixes a staging leftover's name in listings.
const stagingFolder = ".tmp/"

// itemKinds is the order in which listings print: the order of the steps.
var itemKinds = []string{kindStaging, kindRecovered, kindAdopted, kindPurged, kindOrphans, kindUnattached, kindDangling, kindRepaired, kindThumbnails}

// ItemKinds returns the kinds of Report.Items in the order of the steps.
func ItemKinds() []string { return append([]string(nil), itemKinds...) }

// list adds it to the report's listing when the pass was asked for one.
func (p *pass) list(kind string, it Item) {
	if !p.cfg.List {
		return
	}
	if p.listed >= maxListed {
		p.rep.ItemsOmitted++
		return
	}
	if p.rep.Items == nil {
		p.rep.Items = map[string][]Item{}
	}
	p.rep.Items[kind] = append(p.rep.Items[kind], it)
	p.listed++
}

// moved lists it and, in a real pass, names it in the log: the log of a
// pass says what it moved or removed, not only how many.
func (p *pass) moved(kind string, it Item) {
	p.list(kind, it)
	if p.cfg.DryRun {
		return
	}
	fields := []zap.Field{zap.String("kind", kind), zap.String("url", it.URL)}
	if it.ImagenID != 0 {
		fields = append(fields, zap.Int32("imagen_id", it.ImagenID))
	}
	if it.PapeleraID != 0 {
		fields = append(fields, zap.Int64("papelera_id", it.PapeleraID))
	}
	p.info("janitor moved", fields...)
}

// entryItem is the item of a trash entry.
func entryItem(e repo.Entrada) Item {
	it := Item{URL: e.URL, PapeleraID: e.ID}
	if e.ImagenID != nil {
		it.ImagenID = *e.ImagenID
	}
	if e.Bytes != nil {
		it.Bytes = *e.Bytes
	}
	return it
}
