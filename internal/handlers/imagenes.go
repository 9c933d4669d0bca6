package handlers

import (
	"context"
	"errors"
	"io"
	"path"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// balsamoaTypes are the upload types of Balsamoa's admin panel.
var balsamoaTypes = []string{"image/jpeg", "image/png", "image/webp", "image/gif"}

type imagenStore interface {
	ListImagenes(ctx context.Context, f repo.ImagenFilter) ([]repo.Imagen, error)
	GetImagen(ctx context.Context, id int32, scope repo.Scope) (repo.Imagen, error)
	ListPapelera(ctx context.Context, after *repo.PapeleraCursor, limit int) ([]repo.Entrada, error)
}

type imagenCatalog interface {
	DeleteImagenesBulk(ctx context.Context, ids []int32, deletedBy string) (catalog.Bulk, error)
	BulkLimit() int
	DeleteImagen(ctx context.Context, id int32, scope repo.Scope, deletedBy string) (repo.Entrada, error)
	Upload(ctx context.Context, st *storage.Staged, n repo.NuevaImagen) (repo.Imagen, error)
	Restore(ctx context.Context, id int64) (repo.Imagen, error)
}

type stager interface {
	Stage(ctx context.Context, r io.Reader, limit int64, allowed []string) (*storage.Staged, error)
	Discard(ctx context.Context, st *storage.Staged) error
}

// imagenesHandler serves Balsamoa's image and trash routes (admin only).
type imagenesHandler struct {
	store   imagenStore
	catalog imagenCatalog
	files   stager
	// retention is TRASH_RETENTION: when an entry will be purged (0: not
	// told).
	retention time.Duration
	uploads   *uploadSlots
}

// imagenJSON is an image as Balsamoa's admin sees it.
type imagenJSON struct {
	ID          int32      `json:"id"`
	ProductoID  *int32     `json:"producto_id"`
	URL         string     `json:"url"`
	Orden       *int32     `json:"orden"`
	Bytes       *int64     `json:"bytes,omitempty"`
	ContentType *string    `json:"content_type,omitempty"`
	SHA256      *string    `json:"sha256,omitempty"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
}

func toImagenJSON(i repo.Imagen) imagenJSON {
	return imagenJSON{ID: i.ID, ProductoID: i.ProductoID, URL: i.URL, Orden: i.Orden, Bytes: i.Bytes,
		ContentType: i.ContentType, SHA256: i.SHA256, CreatedAt: i.CreatedAt}
}

// upload: POST /api/v1/admin/imagenes/subir, multipart field "imagen".
func (h *imagenesHandler) upload(c *fiber.Ctx) error {
	u, _ := auth.FromCtx(c)
	release, err := h.uploads.acquire(c, u)
	if err != nil {
		return err
	}
	defer release()
	st, err := stageUpload(c, h.uploads, h.files, "imagen", balsamoaMaxUpload, balsamoaTypes)
	if err != nil {
		return err
	}
	img, err := h.catalog.Upload(c.UserContext(), st, repo.NuevaImagen{Orden: 1, OwnerSub: u.Sub})
	if err != nil {
		return messages{fiber.StatusInternalServerError: "Error al guardar la imagen"}.wrap(err)
	}
	c.Location("/api/v1/admin/imagenes/" + strconv.Itoa(int(img.ID)))
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{
		"mensaje":  "Imagen subida correctamente",
		"url":      img.URL,
		"filename": path.Base(img.URL),
		"id":       img.ID,
	})
}

// list: GET /api/v1/admin/imagenes[?producto_id=N|sin_producto=true][&despues_de=ID&limite=N]
func (h *imagenesHandler) list(c *fiber.Ctx) error {
	limit, err := pageLimit(c, "limite")
	if err != nil {
		return err
	}
	after, err := optionalID(c, "despues_de")
	if err != nil {
		return err
	}
	f := repo.ImagenFilter{Scope: repo.All, AfterID: after, Limit: limit}
	if pid, err := optionalID(c, "producto_id"); err != nil {
		return err
	} else if pid != 0 {
		f.ProductoID = &pid
	}
	if f.Unattached, err = queryBool(c, "sin_producto"); err != nil {
		return err
	}
	imgs, err := h.store.ListImagenes(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]imagenJSON, len(imgs))
	for i, img := range imgs {
		out[i] = toImagenJSON(img)
	}
	var next *int32
	if len(imgs) == limit {
		next = &imgs[len(imgs)-1].ID
	}
	return c.JSON(fiber.Map{"imagenes": out, "siguiente": next})
}

var deleteMsgs = messages{
	fiber.StatusBadRequest:          "El ID de imagen debe ser un número válido",
	fiber.StatusNotFound:            "Imagen no encontrada",
	fiber.StatusInternalServerError: "Error al eliminar la imagen de la base de datos",
}

// delete: DELETE /api/v1/admin/imagenes/:id — the seed
// balsamoa-delete-imagen.txt, with the trash in place of unlink.
func (h *imagenesHandler) delete(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return deleteMsgs.wrap(err)
	}
	u, _ := auth.FromCtx(c)
	e, err := h.catalog.DeleteImagen(c.UserContext(), id, repo.All, u.Sub)
	if err != nil {
		return deleteMsgs.wrap(err)
	}
	return c.JSON(deletedJSON{ID: id, Mensaje: "Imagen eliminada correctamente", PapeleraID: e.ID})
}

// deletedJSON is the answer to an image delete. A struct, not a fiber.Map:
// encoding a map reflects over it and sorts its keys on every delete. Its
// fields are in that sorted order, so the bytes are the map's.
type deletedJSON struct {
	ID         int32  `json:"id"`
	Mensaje    string `json:"mensaje"`
	PapeleraID int64  `json:"papelera_id"`
}

// entradaJSON is a trash entry as the admin sees it.
type entradaJSON struct {
	ID           int64     `json:"id"`
	ImagenID     *int32    `json:"imagen_id"`
	ProductoID   *int32    `json:"producto_id"`
	URL          string    `json:"url"`
	Orden        *int32    `json:"orden"`
	Motivo       string    `json:"motivo"`
	EliminadoPor *string   `json:"eliminado_por"`
	EliminadoEn  time.Time `json:"eliminado_en"`
	SinArchivo   bool      `json:"sin_archivo"`
	// PurgaEn is when the janitor purges the entry (eliminado_en +
	// TRASH_RETENTION): the admin page shows the time left.
	PurgaEn *time.Time `json:"purga_en,omitempty"`
}

// listTrash: GET /api/v1/admin/papelera[?antes_de=CURSOR&limite=N], newest
// first. The cursor is opaque to clients: "<unix micro>.<id>" of the last
// entry of the previous page.
func (h *imagenesHandler) listTrash(c *fiber.Ctx) error {
	limit, err := pageLimit(c, "limite")
	if err != nil {
		return err
	}
	var after *repo.PapeleraCursor
	if s := c.Query("antes_de"); s != "" {
		cur, err := parseTrashCursor(s)
		if err != nil {
			return err
		}
		after = &cur
	}
	es, err := h.store.ListPapelera(c.UserContext(), after, limit)
	if err != nil {
		return err
	}
	out := make([]entradaJSON, len(es))
	for i, e := range es {
		out[i] = entradaJSON{ID: e.ID, ImagenID: e.ImagenID, ProductoID: e.ProductoID, URL: e.URL, Orden: e.Orden,
			Motivo: e.Motivo, EliminadoPor: e.EliminadoPor, EliminadoEn: e.EliminadoEn, SinArchivo: e.SinArchivo}
		if h.retention > 0 {
			at := e.EliminadoEn.Add(h.retention)
			out[i].PurgaEn = &at
		}
	}
	var next *string
	if len(es) == limit {
		last := es[len(es)-1]
		s := strconv.FormatInt(last.EliminadoEn.UnixMicro(), 10) + "." + strconv.FormatInt(last.ID, 10)
		next = &s
	}
	return c.JSON(fiber.Map{"papelera": out, "siguiente": next})
}

func parseTrashCursor(s string) (repo.PapeleraCursor, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			micros, err1 := strconv.ParseInt(s[:i], 10, 64)
			id, err2 := parseID64(s[i+1:])
			if err1 != nil || err2 != nil || micros < 0 {
				return repo.PapeleraCursor{}, errBadQuery
			}
			return repo.PapeleraCursor{EliminadoEn: time.UnixMicro(micros), ID: id}, nil
		}
	}
	return repo.PapeleraCursor{}, errBadQuery
}

var restoreMsgs = messages{
	fiber.StatusBadRequest:          "El ID de la papelera debe ser un número válido",
	fiber.StatusNotFound:            "Entrada de papelera no encontrada (purgada o ya restaurada)",
	fiber.StatusInternalServerError: "Error al restaurar la imagen",
}

// restore: POST /api/v1/admin/papelera/:id/restaurar
func (h *imagenesHandler) restore(c *fiber.Ctx) error {
	id, err := parseID64(c.Params("id"))
	if err != nil {
		return restoreMsgs.wrap(err)
	}
	img, err := h.catalog.Restore(c.UserContext(), id)
	switch {
	case errors.Is(err, trash.ErrURLTaken):
		return messages{fiber.StatusConflict: "La URL de la imagen ya está en uso por otra imagen"}.wrap(err)
	case errors.Is(err, trash.ErrProductGone):
		return messages{fiber.StatusConflict: "El producto de la imagen ya no existe"}.wrap(err)
	case errors.Is(err, trash.ErrFileLost):
		return messages{fiber.StatusConflict: "El archivo de la imagen no está en la papelera ni en su lugar: no se puede restaurar"}.wrap(err)
	case err != nil:
		return restoreMsgs.wrap(err)
	}
	return c.JSON(fiber.Map{"mensaje": "Imagen restaurada correctamente", "imagen": toImagenJSON(img)})
}
