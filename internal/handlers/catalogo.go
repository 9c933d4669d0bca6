package handlers

import (
	"encoding/json"
	"time"

	"github.com/imagenes/imagenes/internal/repo"
)

// catalogoJSON is a product as Balsamoa's shop and admin panel read it: a
// row of its view vista_catalogo_productos (SPEC §4).
type catalogoJSON struct {
	ID              int32           `json:"id"`
	Nombre          string          `json:"nombre"`
	Descripcion     *string         `json:"descripcion"`
	CategoriaID     *int32          `json:"categoria_id"`
	Categoria       *string         `json:"categoria"`
	Precio          string          `json:"precio"`
	Destacado       bool            `json:"destacado"`
	Activo          bool            `json:"activo"`
	FechaCreacion   *time.Time      `json:"fecha_creacion"`
	ImagenPrincipal *string         `json:"imagen_principal"`
	StockTotal      int64           `json:"stock_total"`
	StockPorTalle   json.RawMessage `json:"stock_por_talle"`
	ColoresHex      json.RawMessage `json:"colores_hex"`
	Imagenes        json.RawMessage `json:"imagenes"`
	TalleIDs        json.RawMessage `json:"talle_ids"`
	ColorIDs        json.RawMessage `json:"color_ids"`
}

func toCatalogoJSON(p repo.CatalogoProducto) catalogoJSON {
	return catalogoJSON{
		ID: p.ID, Nombre: p.Nombre, Descripcion: p.Descripcion, CategoriaID: p.CategoriaID, Categoria: p.Categoria,
		Precio: p.Precio, Destacado: p.Destacado, Activo: p.Activo, FechaCreacion: p.FechaCreacion,
		ImagenPrincipal: p.ImagenPrincipal, StockTotal: p.StockTotal, StockPorTalle: p.StockPorTalle,
		ColoresHex: p.ColoresHex, Imagenes: p.Imagenes, TalleIDs: p.TalleIDs, ColorIDs: p.ColorIDs,
	}
}
