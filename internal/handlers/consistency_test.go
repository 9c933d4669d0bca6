package handlers_test

import (
	"context"
	"sort"
	"strings"

	"github.com/imagenes/imagenes/internal/storage"
)

// snapshot is the state of rows and files that must move together.
type snapshot struct {
	rows  map[int]string // image id → url
	live  []string       // live files, as urls
	trash []string       // trash file names
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	s := snapshot{rows: map[int]string{}}
	rows, err := e.pool.Query(context.Background(), `SELECT id, url FROM producto_imagenes`)
	if err != nil {
		e.t.Fatal(err)
	}
	for rows.Next() {
		var id int
		var url string
		if err := rows.Scan(&id, &url); err != nil {
			e.t.Fatal(err)
		}
		s.rows[id] = url
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	for _, k := range e.kit.Keys(e.t) {
		if strings.HasPrefix(k, "recursos/") {
			s.live = append(s.live, "/"+k)
		}
	}
	s.trash = e.trashFiles()
	sort.Strings(s.live)
	sort.Strings(s.trash)
	return s
}

// checkConsistent fails the test unless rows and files agree: every local
// row has its live file, every live file has a row, every trash entry that
// has a file has it in the trash, and every trash file has its entry.
func (e *env) checkConsistent() {
	e.t.Helper()
	s := e.snapshot()
	byURL := map[string]bool{}
	for id, url := range s.rows {
		byURL[url] = true
		if storage.IsLocal(url) && !e.live(url) {
			e.t.Errorf("image %d: row with url %s but no live file", id, url)
		}
	}
	for _, url := range s.live {
		if !byURL[url] {
			e.t.Errorf("live file %s has no row", url)
		}
	}
	want := map[string]bool{}
	rows, err := e.pool.Query(context.Background(),
		`SELECT id, eliminado_en, url FROM imagenes_papelera WHERE NOT sin_archivo AND url LIKE '/recursos/%'`)
	if err != nil {
		e.t.Fatal(err)
	}
	for rows.Next() {
		var en entradaRow
		if err := rows.Scan(&en.id, &en.at, &en.url); err != nil {
			e.t.Fatal(err)
		}
		name := storage.TrashName(en.id, en.at, en.url)
		want[name] = true
		if !e.kit.Exists(e.t, ".papelera/"+name) {
			e.t.Errorf("trash entry %d (%s) has no file %s", en.id, en.url, name)
		}
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	for _, name := range s.trash {
		if !want[name] && !strings.HasPrefix(name, ".") {
			e.t.Errorf("trash file %s has no entry", name)
		}
	}
}
