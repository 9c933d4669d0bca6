package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/repo"
)

type productoStore interface {
	GetCatalogo(ctx context.Context, vista bool, id int32, onlyActive bool) (repo.CatalogoProducto, error)
	ListCatalogo(ctx context.Context, vista bool, f repo.CatalogoFilter) ([]repo.CatalogoProducto, error)
	ImagenesDe(ctx context.Context, ids []int32) ([]repo.Imagen, error)
	UpdateProducto(ctx context.Context, id int32, c repo.ProductoCampos) (repo.Producto, error)
}

type productoCatalog interface {
	CreateProducto(ctx context.Context, c repo.ProductoCampos, set []catalog.ImagenRef, deletedBy string) (catalog.Saved, error)
	UpdateProducto(ctx context.Context, id int32, c repo.ProductoCampos, set []catalog.ImagenRef, deletedBy string) (catalog.Saved, error)
	DeleteProducto(ctx context.Context, id int32, deletedBy string) ([]repo.Entrada, error)
}

// productosHandler serves Balsamoa's product routes: the admin CRUD and the
// public shop reads.
type productosHandler struct {
	store   productoStore
	catalog productoCatalog
	// vista: the database has Balsamoa's vista_catalogo_productos, which
	// the reads answer from.
	vista bool
	// balsamoa: the database has Balsamoa's variantes (and categorias):
	// writes take variantes and require categoria_id on create, as
	// Balsamoa's own routes do.
	balsamoa bool
}

// productoJSON is a product as Balsamoa's admin sees it.
type productoJSON struct {
	ID            int32        `json:"id"`
	Nombre        string       `json:"nombre"`
	Descripcion   *string      `json:"descripcion"`
	Precio        string       `json:"precio"`
	CategoriaID   *int32       `json:"categoria_id"`
	Destacado     bool         `json:"destacado"`
	Activo        bool         `json:"activo"`
	FechaCreacion *time.Time   `json:"fecha_creacion"`
	Imagenes      []imagenJSON `json:"imagenes"`
}

func toProductoJSON(p repo.Producto, imgs []repo.Imagen) productoJSON {
	out := productoJSON{ID: p.ID, Nombre: p.Nombre, Descripcion: p.Descripcion, Precio: p.Precio,
		CategoriaID: p.CategoriaID, Destacado: p.Destacado != nil && *p.Destacado,
		Activo: p.Activo == nil || *p.Activo, FechaCreacion: p.FechaCreacion, Imagenes: make([]imagenJSON, len(imgs))}
	for i, img := range imgs {
		out.Imagenes[i] = toImagenJSON(img)
	}
	return out
}

var productoMsgs = messages{
	fiber.StatusBadRequest: "El ID de producto debe ser un número válido",
	fiber.StatusNotFound:   "Producto no encontrado",
	fiber.StatusConflict:   "El producto choca con una restricción de la base de datos (¿existe la categoría?)",
}

// saveError maps the errors of a product write; on a Balsamoa database a
// category, size or colour that does not exist is Balsamoa's 400.
func (h *productosHandler) saveError(err error, internal string) error {
	if h.balsamoa && errors.Is(err, repo.ErrForeignKey) {
		return bad(msgConsistencia)
	}
	return saveError(err, internal)
}

// saveError maps the errors of a product write to the route's messages.
func saveError(err error, internal string) error {
	var se *catalog.SetError
	if errors.As(err, &se) {
		if errors.Is(err, catalog.ErrImagenAjena) {
			return messages{fiber.StatusConflict: "La imagen ya pertenece a otro producto: " + se.URL}.wrap(err)
		}
		return messages{fiber.StatusBadRequest: "La imagen no existe (súbela primero o restáurala de la papelera): " + se.URL}.wrap(err)
	}
	m := messages{fiber.StatusInternalServerError: internal}
	for k, v := range productoMsgs {
		m[k] = v
	}
	return m.wrap(err)
}

// list: GET /api/v1/admin/productos[?destacados=true&antes_de=ID&limite=N]
func (h *productosHandler) list(c *fiber.Ctx) error { return h.page(c, false) }

// tiendaList: GET /api/v1/tienda/productos[?destacados=true&...] — active
// products only.
func (h *productosHandler) tiendaList(c *fiber.Ctx) error { return h.page(c, true) }

// page answers a bare JSON array of catalogue rows, newest first, as
// Balsamoa does (its shop reads the body as the list); the next page, when
// there may be one, is in the Link header (RFC 8288), so the body stays
// what Balsamoa's clients expect.
func (h *productosHandler) page(c *fiber.Ctx, tienda bool) error {
	limit, err := catalogoLimit(c)
	if err != nil {
		return err
	}
	before, err := optionalID(c, "antes_de")
	if err != nil {
		return err
	}
	f := repo.CatalogoFilter{OnlyActive: tienda, BeforeID: before, Limit: limit}
	if f.OnlyDestacados, err = queryBool(c, "destacados"); err != nil {
		return err
	}
	ps, err := h.store.ListCatalogo(c.UserContext(), h.vista, f)
	if err != nil {
		return err
	}
	if len(ps) == limit {
		next := url.Values{"antes_de": {strconv.Itoa(int(ps[len(ps)-1].ID))}, "limite": {strconv.Itoa(limit)}}
		if f.OnlyDestacados {
			next.Set("destacados", "true")
		}
		c.Set(fiber.HeaderLink, "<"+c.Route().Path+"?"+next.Encode()+`>; rel="next"`)
	}
	if tienda {
		c.Set(fiber.HeaderCacheControl, "public, max-age=30")
	}
	out := make([]catalogoJSON, len(ps))
	for i, p := range ps {
		out[i] = toCatalogoJSON(p)
	}
	return c.JSON(out)
}

// catalogoLimit is the page size of the catalogue: catalogoPageSize by
// default, so that a shop that does not follow Link still gets a whole
// small catalogue in one answer.
func catalogoLimit(c *fiber.Ctx) (int, error) {
	if c.Query("limite") == "" {
		return catalogoPageSize, nil
	}
	return pageLimit(c, "limite")
}

// catalogoPageSize is the catalogue's default page.
const catalogoPageSize = 100

// get: GET /api/v1/admin/productos/:id
func (h *productosHandler) get(c *fiber.Ctx) error { return h.one(c, false) }

// tiendaGet: GET /api/v1/tienda/productos/:id — 404 for an inactive one.
func (h *productosHandler) tiendaGet(c *fiber.Ctx) error { return h.one(c, true) }

func (h *productosHandler) one(c *fiber.Ctx, tienda bool) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return productoMsgs.wrap(err)
	}
	p, err := h.store.GetCatalogo(c.UserContext(), h.vista, id, tienda)
	if err != nil {
		return productoMsgs.wrap(err)
	}
	if tienda {
		c.Set(fiber.HeaderCacheControl, "public, max-age=30")
	}
	return c.JSON(toCatalogoJSON(p))
}

// create: POST /api/v1/admin/productos
func (h *productosHandler) create(c *fiber.Ctx) error {
	campos, set, err := parseProducto(c.Body(), true, h.balsamoa)
	if err != nil {
		return err
	}
	u, _ := auth.FromCtx(c)
	saved, err := h.catalog.CreateProducto(c.UserContext(), campos, set, u.Sub)
	if err != nil {
		return h.saveError(err, "Error al crear el producto")
	}
	c.Location(fmt.Sprintf("/api/v1/admin/productos/%d", saved.Producto.ID))
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{
		"mensaje":  "Producto creado correctamente",
		"producto": toProductoJSON(saved.Producto.Producto, saved.Producto.Imagenes),
	})
}

// update: PUT /api/v1/admin/productos/:id. Absent fields stay as they are;
// "imagenes" present (even []) replaces the set, and the images it drops go
// to the trash in the same transaction.
func (h *productosHandler) update(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return productoMsgs.wrap(err)
	}
	campos, set, err := parseProducto(c.Body(), false, h.balsamoa)
	if err != nil {
		return err
	}
	u, _ := auth.FromCtx(c)
	saved, err := h.catalog.UpdateProducto(c.UserContext(), id, campos, set, u.Sub)
	if err != nil {
		return h.saveError(err, "Error al actualizar el producto")
	}
	return c.JSON(fiber.Map{
		"mensaje":  "Producto actualizado correctamente",
		"producto": toProductoJSON(saved.Producto.Producto, saved.Producto.Imagenes),
		"papelera": entradaIDs(saved.Trashed),
	})
}

// delete: DELETE /api/v1/admin/productos/:id — its images go to the trash in
// the same transaction.
func (h *productosHandler) delete(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return productoMsgs.wrap(err)
	}
	u, _ := auth.FromCtx(c)
	entries, err := h.catalog.DeleteProducto(c.UserContext(), id, u.Sub)
	if err != nil {
		return saveError(err, "Error al eliminar el producto")
	}
	return c.JSON(fiber.Map{
		"mensaje":  "Producto eliminado correctamente",
		"id":       id,
		"papelera": entradaIDs(entries),
	})
}

// activar / desactivar: PATCH /api/v1/admin/productos/:id/activar|desactivar
func (h *productosHandler) activar(c *fiber.Ctx) error    { return h.setActivo(c, true) }
func (h *productosHandler) desactivar(c *fiber.Ctx) error { return h.setActivo(c, false) }

func (h *productosHandler) setActivo(c *fiber.Ctx, activo bool) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return productoMsgs.wrap(err)
	}
	p, err := h.store.UpdateProducto(c.UserContext(), id, repo.ProductoCampos{Activo: &activo})
	if err != nil {
		return productoMsgs.wrap(err)
	}
	imgs, err := h.store.ImagenesDe(c.UserContext(), []int32{id})
	if err != nil {
		return err
	}
	msg := "Producto desactivado correctamente"
	if activo {
		msg = "Producto activado correctamente"
	}
	return c.JSON(fiber.Map{"mensaje": msg, "producto": toProductoJSON(p, imgs)})
}

func entradaIDs(es []repo.Entrada) []int64 {
	ids := make([]int64, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}
