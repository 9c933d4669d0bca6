// Package migrations holds the SQL migrations of imagenes, embedded in the
// binary so that `imagenes migrate up` needs no files beside it.
//
// Files are named NNN_verb_noun.sql in the format of jackc/tern: the up
// migration above the line "---- create above / drop below ----". Every
// migration must run on a database that already holds Balsamoa's tables and
// rows: create only what is absent, add only nullable columns and new tables.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
