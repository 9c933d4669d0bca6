package handlers

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/repo"
)

// bulkAnswer writes by hand what encoding/json writes for the same answer
// (the route's body before it was hand-written): byte for byte, for every
// shape a bulk delete can have.
func TestBulkAnswerIsTheJSON(t *testing.T) {
	t.Parallel()
	entry := func(img int32, id int64) repo.Entrada { return repo.Entrada{ID: id, ImagenID: &img} }
	tests := []struct {
		name string
		res  catalog.Bulk
	}{
		{"nothing found", catalog.Bulk{NotFound: []int32{7, 2147483647}}},
		{"all found", catalog.Bulk{Deleted: []repo.Entrada{entry(3, 1), entry(1, 9223372036854775807)}}},
		{"found and missing", catalog.Bulk{Deleted: []repo.Entrada{entry(2147483647, 12)}, NotFound: []int32{1}}},
		{"empty", catalog.Bulk{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type eliminada struct {
				ID         int32 `json:"id"`
				PapeleraID int64 `json:"papelera_id"`
			}
			out := []eliminada{}
			for _, e := range tt.res.Deleted {
				out = append(out, eliminada{ID: *e.ImagenID, PapeleraID: e.ID})
			}
			notFound := tt.res.NotFound
			if notFound == nil {
				notFound = []int32{}
			}
			want, err := json.Marshal(map[string]any{
				"mensaje": "Imágenes eliminadas correctamente", "eliminadas": out, "no_encontradas": notFound,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := bulkAnswer(tt.res); !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}
