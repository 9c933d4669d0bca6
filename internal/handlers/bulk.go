package handlers

import (
	"bytes"
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/catalog"
)

var bulkMsgs = messages{
	fiber.StatusBadRequest:          "Lista de IDs inválida",
	fiber.StatusInternalServerError: "Error al eliminar las imágenes de la base de datos",
}

// deleteBulk: POST /api/v1/admin/imagenes/eliminar {"ids": [...]} (SPEC
// §10) — up to 1 000 images to the trash in one transaction, all or none.
func (h *imagenesHandler) deleteBulk(c *fiber.Ctx) error {
	ids, ok := parseBulkIDs(c.Body())
	if !ok {
		return bulkMsgs.wrap(errBadBody)
	}
	u, _ := auth.FromCtx(c)
	res, err := h.catalog.DeleteImagenesBulk(c.UserContext(), ids, u.Sub)
	if err != nil {
		return bulkMsgs.wrap(err)
	}
	type eliminada struct {
		ID         int32 `json:"id"`
		PapeleraID int64 `json:"papelera_id"`
	}
	out := make([]eliminada, len(res.Deleted))
	for i, e := range res.Deleted {
		out[i] = eliminada{ID: *e.ImagenID, PapeleraID: e.ID}
	}
	notFound := res.NotFound
	if notFound == nil {
		notFound = []int32{}
	}
	return c.JSON(fiber.Map{
		"mensaje":        "Imágenes eliminadas correctamente",
		"eliminadas":     out,
		"no_encontradas": notFound,
	})
}

// parseBulkIDs reads {"ids": [...]}: 1 to catalog.MaxBulk ids, each a JSON
// integer that parseID accepts, read from its raw text (so 1.5, -1, 1e3,
// null and the string "1" are refused).
func parseBulkIDs(body []byte) ([]int32, bool) {
	var b struct {
		IDs []json.RawMessage `json:"ids"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil || dec.More() {
		return nil, false
	}
	if len(b.IDs) == 0 || len(b.IDs) > catalog.MaxBulk {
		return nil, false
	}
	ids := make([]int32, len(b.IDs))
	for i, n := range b.IDs {
		id, err := parseID(string(n))
		if err != nil {
			return nil, false
		}
		ids[i] = id
	}
	return ids, true
}
