package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/catalog"
)

var bulkMsgs = messages{
	fiber.StatusBadRequest:          "Lista de IDs inválida",
	fiber.StatusInternalServerError: "Error al eliminar las imágenes de la base de datos",
}

// deleteBulk: POST /api/v1/admin/imagenes/eliminar {"ids": [...]} (SPEC
// §10) — up to 1 000 images to the trash in one transaction, all or none;
// on a bucket up to the catalogue's BulkLimit, and more distinct ids are
// 413 with a mensaje that names the limit.
func (h *imagenesHandler) deleteBulk(c *fiber.Ctx) error {
	ids, ok := parseBulkIDs(c.Body())
	if !ok {
		return bulkMsgs.wrap(errBadBody)
	}
	u, _ := auth.FromCtx(c)
	res, err := h.catalog.DeleteImagenesBulk(c.UserContext(), ids, u.Sub)
	if errors.Is(err, catalog.ErrBulkTooLarge) {
		return messages{fiber.StatusRequestEntityTooLarge: tooManyIDs(h.catalog.BulkLimit())}.wrap(err)
	}
	if err != nil {
		return bulkMsgs.wrap(err)
	}
	c.Response().SetBodyRaw(bulkAnswer(res))
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

// tooManyIDs is the 413's mensaje: the limit, and what to do instead.
func tooManyIDs(limit int) string {
	return fmt.Sprintf("Demasiadas imágenes en una solicitud: este almacenamiento acepta hasta %d IDs distintos por solicitud; envíelas en varias", limit)
}

// bulkAnswer is the 200 body of a bulk delete, {"eliminadas": [{"id",
// "papelera_id"}], "mensaje", "no_encontradas": [ids]}, written by hand:
// through encoding/json's reflection a thousand pairs cost more than the
// rest of the answer. Every value is a number or a constant.
func bulkAnswer(res catalog.Bulk) []byte {
	b := make([]byte, 0, 96+len(res.Deleted)*36+len(res.NotFound)*11)
	b = append(b, `{"eliminadas":[`...)
	for i, e := range res.Deleted {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(*e.ImagenID), 10)
		b = append(b, `,"papelera_id":`...)
		b = strconv.AppendInt(b, e.ID, 10)
		b = append(b, '}')
	}
	b = append(b, `],"mensaje":"Imágenes eliminadas correctamente","no_encontradas":[`...)
	for i, id := range res.NotFound {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return append(b, "]}"...)
}

// parseBulkIDs reads exactly {"ids": [...]}: one JSON object whose one key
// is "ids" (case-sensitive, once), then nothing but whitespace; 1 to
// catalog.MaxBulk ids, each a JSON integer that parseID accepts, read from
// its raw text (so 1.5, -1, 1e3, null and the string "1" are refused).
// encoding/json alone is lenient where a delete must not be: it matches keys
// case-insensitively ("IDS"), lets a repeated key win over the first, skips
// unknown keys, and Decoder.More does not see a stray "]" or "}" after the
// object — each of those deleted images before (issue 23). Reading token by
// token leaves no room for any of them.
func parseBulkIDs(body []byte) ([]int32, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	if tok, err := dec.Token(); err != nil || tok != "ids" {
		return nil, false
	}
	var raw []json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, false
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data, or an error reading it
	}
	if len(raw) == 0 || len(raw) > catalog.MaxBulk {
		return nil, false
	}
	ids := make([]int32, len(raw))
	for i, n := range raw {
		id, err := parseID(string(n))
		if err != nil {
			return nil, false
		}
		ids[i] = id
	}
	return ids, true
}
