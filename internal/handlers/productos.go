package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/trash"
)

type productoStore interface {
	GetProducto(ctx context.Context, id int32, onlyActive bool) (repo.Producto, error)
	ListProductos(ctx context.Context, f repo.ProductoFilter) ([]repo.Producto, error)
	ImagenesDe(ctx context.Context, ids []int32) ([]repo.Imagen, error)
	UpdateProducto(ctx context.Context, id int32, c repo.ProductoCampos) (repo.Producto, error)
}

type productoProtocol interface {
	CreateProducto(ctx context.Context, c repo.ProductoCampos, set []trash.ImagenRef, por string) (trash.Saved, error)
	UpdateProducto(ctx context.Context, id int32, c repo.ProductoCampos, set []trash.ImagenRef, por string) (trash.Saved, error)
	DeleteProducto(ctx context.Context, id int32, por string) ([]repo.Entrada, error)
}

// productosHandler serves Balsamoa's product routes: the admin CRUD and the
// public shop reads.
type productosHandler struct {
	store    productoStore
	protocol productoProtocol
	metrics  *Metrics
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

// tiendaJSON is a product as the public shop sees it: no activo, creation
// date, sizes or hashes.
type tiendaJSON struct {
	ID          int32        `json:"id"`
	Nombre      string       `json:"nombre"`
	Descripcion *string      `json:"descripcion"`
	Precio      string       `json:"precio"`
	CategoriaID *int32       `json:"categoria_id"`
	Destacado   bool         `json:"destacado"`
	Imagenes    []tiendaFoto `json:"imagenes"`
}

type tiendaFoto struct {
	ID    int32  `json:"id"`
	URL   string `json:"url"`
	Orden *int32 `json:"orden"`
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

func toTiendaJSON(p repo.Producto, imgs []repo.Imagen) tiendaJSON {
	out := tiendaJSON{ID: p.ID, Nombre: p.Nombre, Descripcion: p.Descripcion, Precio: p.Precio,
		CategoriaID: p.CategoriaID, Destacado: p.Destacado != nil && *p.Destacado, Imagenes: make([]tiendaFoto, len(imgs))}
	for i, img := range imgs {
		out.Imagenes[i] = tiendaFoto{ID: img.ID, URL: img.URL, Orden: img.Orden}
	}
	return out
}

// byProducto groups images (ordered by product) by product id.
func byProducto(imgs []repo.Imagen) map[int32][]repo.Imagen {
	m := map[int32][]repo.Imagen{}
	for _, img := range imgs {
		if img.ProductoID != nil {
			m[*img.ProductoID] = append(m[*img.ProductoID], img)
		}
	}
	return m
}

var productoMsgs = messages{
	fiber.StatusBadRequest: "El ID de producto debe ser un número válido",
	fiber.StatusNotFound:   "Producto no encontrado",
	fiber.StatusConflict:   "El producto choca con una restricción de la base de datos (¿existe la categoría?)",
}

// saveError maps the errors of a product write to the route's messages.
func saveError(err error, internal string) error {
	var se *trash.SetError
	if errors.As(err, &se) {
		if errors.Is(err, trash.ErrImagenAjena) {
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

// list: GET /api/v1/admin/productos[?destacados=true&despues_de=ID&limite=N]
func (h *productosHandler) list(c *fiber.Ctx) error { return h.page(c, false) }

// tiendaList: GET /api/v1/tienda/productos[?destacados=true&...] — active
// products only.
func (h *productosHandler) tiendaList(c *fiber.Ctx) error { return h.page(c, true) }

func (h *productosHandler) page(c *fiber.Ctx, tienda bool) error {
	limit, err := pageLimit(c, "limite")
	if err != nil {
		return err
	}
	after, err := optionalID(c, "despues_de")
	if err != nil {
		return err
	}
	f := repo.ProductoFilter{OnlyActive: tienda, AfterID: after, Limit: limit}
	if f.OnlyDestacados, err = queryBool(c, "destacados"); err != nil {
		return err
	}
	ps, err := h.store.ListProductos(c.UserContext(), f)
	if err != nil {
		return err
	}
	ids := make([]int32, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	imgs := map[int32][]repo.Imagen{}
	if len(ids) > 0 {
		all, err := h.store.ImagenesDe(c.UserContext(), ids)
		if err != nil {
			return err
		}
		imgs = byProducto(all)
	}
	var next *int32
	if len(ps) == limit {
		next = &ps[len(ps)-1].ID
	}
	if tienda {
		out := make([]tiendaJSON, len(ps))
		for i, p := range ps {
			out[i] = toTiendaJSON(p, imgs[p.ID])
		}
		c.Set(fiber.HeaderCacheControl, "public, max-age=30")
		return c.JSON(fiber.Map{"productos": out, "siguiente": next})
	}
	out := make([]productoJSON, len(ps))
	for i, p := range ps {
		out[i] = toProductoJSON(p, imgs[p.ID])
	}
	return c.JSON(fiber.Map{"productos": out, "siguiente": next})
}

// get: GET /api/v1/admin/productos/:id
func (h *productosHandler) get(c *fiber.Ctx) error { return h.one(c, false) }

// tiendaGet: GET /api/v1/tienda/productos/:id — 404 for an inactive one.
func (h *productosHandler) tiendaGet(c *fiber.Ctx) error { return h.one(c, true) }

func (h *productosHandler) one(c *fiber.Ctx, tienda bool) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return productoMsgs.wrap(err)
	}
	p, err := h.store.GetProducto(c.UserContext(), id, tienda)
	if err != nil {
		return productoMsgs.wrap(err)
	}
	imgs, err := h.store.ImagenesDe(c.UserContext(), []int32{id})
	if err != nil {
		return err
	}
	if tienda {
		c.Set(fiber.HeaderCacheControl, "public, max-age=30")
		return c.JSON(toTiendaJSON(p, imgs))
	}
	return c.JSON(toProductoJSON(p, imgs))
}

// create: POST /api/v1/admin/productos
func (h *productosHandler) create(c *fiber.Ctx) error {
	campos, set, err := parseProducto(c.Body(), true)
	if err != nil {
		return err
	}
	u, _ := auth.FromCtx(c)
	saved, err := h.protocol.CreateProducto(c.UserContext(), campos, set, u.Sub)
	if err != nil {
		return saveError(err, "Error al crear el producto")
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
	campos, set, err := parseProducto(c.Body(), false)
	if err != nil {
		return err
	}
	u, _ := auth.FromCtx(c)
	saved, err := h.protocol.UpdateProducto(c.UserContext(), id, campos, set, u.Sub)
	if err != nil {
		return saveError(err, "Error al actualizar el producto")
	}
	h.metrics.trashed(saved.Trashed)
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
	entries, err := h.protocol.DeleteProducto(c.UserContext(), id, u.Sub)
	if err != nil {
		return saveError(err, "Error al eliminar el producto")
	}
	h.metrics.trashed(entries)
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
