package handlers

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// catTypes are the upload types of the Cat Data API.
var catTypes = []string{"image/jpeg", "image/png"}

type liveFiles interface {
	stager
	OpenLive(ctx context.Context, url string) (storage.File, error)
}

type catStore interface {
	ListImagenes(ctx context.Context, f repo.ImagenFilter) ([]repo.Imagen, error)
	GetImagen(ctx context.Context, id int32, scope repo.Scope) (repo.Imagen, error)
}

// catHandler serves the Cat Data API: any valid token; a user sees and
// deletes only the images they uploaded, admins all. Another user's image
// is a 404, so its existence is not leaked.
type catHandler struct {
	store   catStore
	catalog imagenCatalog
	files   liveFiles
	links   redirector
	uploads *uploadSlots
}

func scopeOf(u auth.User) repo.Scope {
	if u.Admin {
		return repo.All
	}
	return repo.Scope{Owner: u.Sub}
}

// catImageJSON is an image in the Cat Data API.
type catImageJSON struct {
	ID          int32      `json:"id"`
	Filename    string     `json:"filename"`
	URL         string     `json:"url"`
	ContentType *string    `json:"content_type,omitempty"`
	Bytes       *int64     `json:"bytes,omitempty"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
}

var catUploadMsgs = messages{fiber.StatusBadRequest: "Missing file to upload."}

// upload: POST /api/image, multipart field "file", jpeg or png up to 10 MiB.
func (h *catHandler) upload(c *fiber.Ctx) error {
	u, _ := auth.FromCtx(c)
	release, err := h.uploads.acquire(c, u)
	if err != nil {
		return err
	}
	defer release()
	st, err := stageUpload(c, h.uploads, h.files, "file", catMaxUpload, catTypes)
	if errors.Is(err, errNoFile) {
		return catUploadMsgs.wrap(err)
	}
	if err != nil {
		return err
	}
	img, err := h.catalog.Upload(c.UserContext(), st, repo.NuevaImagen{Orden: 1, OwnerSub: u.Sub})
	if err != nil {
		return err
	}
	c.Location("/api/image/" + strconv.Itoa(int(img.ID)))
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": img.ID, "filename": path.Base(img.URL)})
}

// list: GET /api/images[?after=ID&limit=N], in id order.
func (h *catHandler) list(c *fiber.Ctx) error {
	u, _ := auth.FromCtx(c)
	limit, err := pageLimit(c, "limit")
	if err != nil {
		return err
	}
	after, err := optionalID(c, "after")
	if err != nil {
		return err
	}
	imgs, err := h.store.ListImagenes(c.UserContext(), repo.ImagenFilter{Scope: scopeOf(u), AfterID: after, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]catImageJSON, len(imgs))
	for i, img := range imgs {
		out[i] = catImageJSON{ID: img.ID, Filename: path.Base(img.URL), URL: img.URL, ContentType: img.ContentType, Bytes: img.Bytes, CreatedAt: img.CreatedAt}
	}
	return c.JSON(out)
}

var catNotFound = messages{fiber.StatusNotFound: "Image not found."}

// get: GET /api/image/:id — the bytes, with the stored content type.
func (h *catHandler) get(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return err
	}
	u, _ := auth.FromCtx(c)
	img, err := h.store.GetImagen(c.UserContext(), id, scopeOf(u))
	if err != nil {
		return catNotFound.wrap(err)
	}
	if !storage.IsLocal(img.URL) {
		return errFileMissing
	}
	if h.links.on() {
		err := h.links.redirect(c, img.URL, "private, no-store")
		if errors.Is(err, storage.ErrNotExist) || errors.Is(err, storage.ErrUnsafePath) {
			return errFileMissing
		}
		return err
	}
	f, err := h.files.OpenLive(c.UserContext(), img.URL)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, storage.ErrNotExist) || errors.Is(err, storage.ErrUnsafePath) {
			return errFileMissing
		}
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	ct := contentTypeOf(img.URL)
	if img.ContentType != nil {
		ct = *img.ContentType
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderCacheControl, "private, max-age=0")
	return c.SendStream(f, int(info.Size())) // fasthttp closes f when sent
}

// delete: DELETE /api/image/:id — the seed cat-data-api-delete-image.txt:
// 204 with no body. A row whose file is already gone is still deleted.
func (h *catHandler) delete(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return err
	}
	u, _ := auth.FromCtx(c)
	_, err = h.catalog.DeleteImagen(c.UserContext(), id, scopeOf(u), u.Sub)
	if err != nil {
		return catNotFound.wrap(err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}
