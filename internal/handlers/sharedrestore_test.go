package handlers_test

import (
	"context"
	"fmt"
	"testing"
)

// Two rows share one url (Balsamoa's data has them). Deleting the first
// records its entry sin_archivo and leaves the file for the second; deleting
// the second moves the file to the trash under its own entry. Restoring the
// first entry then answered 200 "Imagen restaurada correctamente" with no
// file in place (GET 404), and the second entry's restore a 409. A restore
// never answers 200 without the file: the first entry's restore now takes
// the url's file from the trash, where the second entry holds it, and that
// entry becomes sin_archivo (its restore finds the url held, 409); with the
// file nowhere, the restore is the 409 of a file that cannot be restored,
// and nothing changes.
func TestRestoreOfAnEntryRecordedWithoutItsFile(t *testing.T) {
	t.Parallel()
	const (
		restored = "Imagen restaurada correctamente"
		urlTaken = "La URL de la imagen ya está en uso por otra imagen"
		fileLost = "El archivo de la imagen no está en la papelera ni en su lugar: no se puede restaurar"
	)
	type step struct {
		entry   int // 0: the first row's (sin_archivo), 1: the second's (the file)
		status  int
		mensaje string
	}
	cases := []struct {
		name  string
		setup func(e *env, url, trashKey string)
		steps []step
		back  int // the row whose image is back (0, 1), or -1
	}{
		{name: "the first entry restored, then the second", setup: func(*env, string, string) {},
			steps: []step{{0, 200, restored}, {1, 409, urlTaken}}, back: 0},
		{name: "the second entry restored, then the first", setup: func(*env, string, string) {},
			steps: []step{{1, 200, restored}, {0, 409, urlTaken}}, back: 1},
		{name: "the file is nowhere", setup: func(e *env, _, tk string) { e.kit.Remove(e.t, tk) },
			steps: []step{{0, 409, fileLost}}, back: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t).on(t)
			ctx := context.Background()
			first, url := e.upload(pngBytes)
			var second int
			if err := e.pool.QueryRow(ctx, `INSERT INTO producto_imagenes (url, orden, owner_sub, bytes)
SELECT url, orden, owner_sub, bytes FROM producto_imagenes WHERE id = $1 RETURNING id`, first).Scan(&second); err != nil {
				t.Fatal(err)
			}
			ids := []int{first, second}
			entries := make([]int, 2)
			for i, id := range ids {
				del := e.send("DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", id), nil)
				if del.status != 200 {
					t.Fatalf("delete %d: got %d %s, want 200", id, del.status, del.body)
				}
				entries[i] = int(del.json(t)["papelera_id"].(float64))
			}
			names := e.trashFiles()
			if len(names) != 1 || e.live(url) {
				t.Fatalf("after both deletes: trash %v, live %v; want the file in the trash", names, e.live(url))
			}
			tc.setup(e, url, ".papelera/"+names[0])
			for _, s := range tc.steps {
				got := e.restore(entries[s.entry])
				if got.status != s.status || got.json(t)["mensaje"] != s.mensaje {
					t.Fatalf("restore of entry %d (row %d): got %d %s, want %d %q",
						entries[s.entry], ids[s.entry], got.status, got.body, s.status, s.mensaje)
				}
			}
			get := e.do(t, req{method: "GET", path: url})
			if tc.back < 0 {
				if get.status != 404 || e.rowExists(first) || e.rowExists(second) {
					t.Errorf("GET %s %d, rows %v %v; want nothing restored", url, get.status, e.rowExists(first), e.rowExists(second))
				}
				if n := e.count(`SELECT count(*) FROM imagenes_papelera`); n != 2 {
					t.Errorf("%d trash entries, want both kept", n)
				}
				return
			}
			if get.status != 200 || !e.rowExists(ids[tc.back]) || e.rowExists(ids[1-tc.back]) {
				t.Errorf("GET %s %d, rows %d %v, %d %v; want the image back under row %d only",
					url, get.status, first, e.rowExists(first), second, e.rowExists(second), ids[tc.back])
			}
			e.checkConsistent()
		})
	}
}
