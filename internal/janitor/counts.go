package janitor

import "strings"

// Count is one of a Report's counts: its name — the JSON key, the metric's
// kind label, the log line's field and, for the counts that list items, the
// items' kind — and its value.
type Count struct {
	Name string
	N    int
}

// Counts returns r's counts in the order the summary reads them. It is the
// one list of them: the pass's log line, the metrics and the CLI summary
// are made from it, and a test checks it against the Report's fields, so a
// count added to the Report and not here fails that test instead of being
// missing from the metrics or the summary (staging, thumbnails and
// purge_kept were).
func (r Report) Counts() []Count {
	return []Count{
		{"recovered", r.Recovered}, {"purged", r.Purged}, {"orphans", r.Orphans}, {"unattached", r.Unattached},
		{"dangling", r.Dangling}, {"repaired", r.Repaired}, {"adopted", r.Adopted}, {"trash_missing", r.TrashMissing},
		{"purge_kept", r.PurgeKept}, {"in_flight", r.InFlight}, {"staging", r.Staging}, {"thumbnails", r.Thumbnails},
		{"files_scanned", r.FilesScanned}, {"rows_scanned", r.RowsScanned},
	}
}

// countNames is every count's name, in the order of Counts.
func countNames() []string {
	var names []string
	for _, c := range (Report{}).Counts() {
		names = append(names, c.Name)
	}
	return names
}

// Label is the count's name for a person: "trash missing".
func (c Count) Label() string { return strings.ReplaceAll(c.Name, "_", " ") }
