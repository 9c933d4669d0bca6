package repo

import (
	"os"
	"strings"
	"testing"
)

// bench/delete.pgbench must run exactly the statement the service sends for
// one image delete, or the ratio `make bench` prints compares different work.
func TestPgbenchScriptIsTheServiceSQL(t *testing.T) {
	script, err := os.ReadFile("../../bench/delete.pgbench")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer(
		"$1", "ARRAY[:id]::int[]",
		"$2::bool", "true::bool", // repo.All: an admin's delete
		"$3::text", "NULL::text",
		"$4", "'imagen'",
		"$5", "'admin'",
	)
	want := r.Replace(lockByIDsSQL) + ";\n" + r.Replace(trashByIDsSQL) + ";"
	if !strings.Contains(string(script), "BEGIN;\n"+want+"\nCOMMIT;") {
		t.Errorf("bench/delete.pgbench does not hold BEGIN; the service's url locks; its delete statement; COMMIT.\nwant:\n%s", want)
	}
}
