package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/imagenes/imagenes/internal/repo"
)

// Balsamoa's 400 messages for its product fields (its controlador.productos),
// so that its admin panel shows what it always showed.
const (
	msgCategoriaObligatoria = "La categoría (categoria_id) es obligatoria y debe ser un número"
	msgVariantesArreglo     = `El campo "variantes" debe ser un arreglo`
	msgVarianteCreate       = `Cada variante debe tener obligatoriamente "talle_id" y "color_id"`
	msgVarianteUpdate       = `Cada variante debe tener "talle_id" y "color_id"`
	msgStockNegativo        = "El stock de cada variante debe ser un número no negativo"
	msgVarianteRepetida     = "Cada combinación de talle y color puede aparecer una sola vez"
	msgConsistencia         = "Error de consistencia: La categoría, talle o color especificado no existen"
)

// maxVariantes bounds a product's variants in one body.
const maxVariantes = 1000

type varianteBody struct {
	TalleID json.RawMessage `json:"talle_id"`
	ColorID json.RawMessage `json:"color_id"`
	Stock   json.RawMessage `json:"stock"`
}

// parseVariantes reads Balsamoa's variantes: [{talle_id, color_id, stock}],
// ids and stock as JSON numbers or their text (its panel sends either); a
// missing stock is 0. The list replaces the product's variants.
func parseVariantes(raw json.RawMessage, creating bool) ([]repo.Variante, error) {
	var in []varianteBody
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &in) != nil {
		return nil, bad(msgVariantesArreglo)
	}
	if len(in) > maxVariantes {
		return nil, bad(fmt.Sprintf("Un producto admite hasta %d variantes", maxVariantes))
	}
	missing := msgVarianteUpdate
	if creating {
		missing = msgVarianteCreate
	}
	out := make([]repo.Variante, 0, len(in))
	seen := make(map[[2]int32]bool, len(in))
	for _, v := range in {
		talle, ok1 := jsonInt(v.TalleID)
		color, ok2 := jsonInt(v.ColorID)
		if !ok1 || !ok2 || talle < 1 || color < 1 {
			return nil, bad(missing)
		}
		var stock int32
		if len(v.Stock) > 0 && string(v.Stock) != "null" {
			n, ok := jsonInt(v.Stock)
			if !ok || n < 0 {
				return nil, bad(msgStockNegativo)
			}
			stock = n
		}
		if seen[[2]int32{talle, color}] {
			return nil, bad(msgVarianteRepetida)
		}
		seen[[2]int32{talle, color}] = true
		out = append(out, repo.Variante{TalleID: talle, ColorID: color, Stock: stock})
	}
	return out, nil
}

// jsonInt reads an int32 from a JSON number without a fraction or a
// string holding one.
func jsonInt(raw json.RawMessage) (int32, bool) {
	s := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(s, `"`) {
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(s, 10, 32)
	return int32(n), err == nil
}
