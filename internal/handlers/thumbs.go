package handlers

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/thumbs"
)

type thumbMaker interface {
	Live(ctx context.Context, url string, w int) (thumbs.Thumb, error)
	Trashed(ctx context.Context, name, url string, w int) ([]byte, string, error)
}

// errNoThumbs: the storage backend keeps no thumbnail cache.
var errNoThumbs = errors.New("thumbnails are not available on this storage")

// thumbnail answers GET /recursos/<u>?w=N (u already validated). Same
// caching headers as the original: a thumbnail's name changes with the
// original's, so it is immutable too; conditional requests go through
// http.ServeContent like the originals'.
func (h *staticHandler) thumbnail(c *fiber.Ctx, u string) error {
	w, err := thumbs.ParseWidth(c.Query("w"))
	if err != nil {
		return err
	}
	if h.thumbs == nil {
		return errNoThumbs
	}
	t, err := h.thumbs.Live(c.UserContext(), u, w)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, storage.ErrNotExist) || errors.Is(err, storage.ErrUnsafePath) {
			return fiber.ErrNotFound
		}
		return err
	}
	info := t.Info
	c.Set(fiber.HeaderETag, `"`+strconv.FormatInt(info.Size(), 36)+"-"+strconv.FormatInt(info.ModTime().UnixNano(), 36)+`"`)
	c.Set(fiber.HeaderLastModified, info.ModTime().UTC().Format(http.TimeFormat))
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderContentType, t.ContentType)
	if conditional(c) {
		defer t.File.Close()
		return serveContent(c, u, info.ModTime(), t.File)
	}
	if c.Method() == fiber.MethodHead {
		t.File.Close()
		c.Set(fiber.HeaderContentLength, strconv.FormatInt(info.Size(), 10))
		return nil
	}
	return c.SendStream(t.File, int(info.Size()))
}

type entradaFinder interface {
	EntradasByID(ctx context.Context, ids []int64) ([]repo.Entrada, error)
}

// trashThumbHandler previews trashed images for the admin page.
type trashThumbHandler struct {
	store  entradaFinder
	thumbs thumbMaker
}

var trashThumbMsgs = messages{
	fiber.StatusBadRequest: "El ID de la papelera debe ser un número válido",
	fiber.StatusNotFound:   "Entrada de papelera no encontrada o sin archivo",
}

// serve: GET /api/v1/admin/papelera/:id/miniatura?w=N. Rendered on each
// request, never cached on disk (the janitor would sweep it: its original
// is not live); the browser may keep it briefly, privately.
func (h *trashThumbHandler) serve(c *fiber.Ctx) error {
	id, err := parseID64(c.Params("id"))
	if err != nil {
		return trashThumbMsgs.wrap(err)
	}
	w, err := thumbs.ParseWidth(c.Query("w"))
	if err != nil {
		return err
	}
	if h.thumbs == nil {
		return errNoThumbs
	}
	es, err := h.store.EntradasByID(c.UserContext(), []int64{id})
	if err != nil {
		return err
	}
	if len(es) == 0 || es[0].SinArchivo || !storage.IsLocal(es[0].URL) {
		return trashThumbMsgs.wrap(repo.ErrNotFound)
	}
	e := es[0]
	data, ct, err := h.thumbs.Trashed(c.UserContext(), storage.TrashName(e.ID, e.EliminadoEn, e.URL), e.URL, w)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, storage.ErrNotExist) {
			return trashThumbMsgs.wrap(repo.ErrNotFound)
		}
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderContentType, ct)
	return c.Send(data)
}

// thumbnails builds the thumbnail service when the storage keeps a cache
// (Capabilities.Thumbnails: both drivers do), and exports its count of generations.
func (d Deps) thumbnails() thumbMaker {
	if d.Files == nil || !d.Files.Capabilities().Thumbnails {
		return nil
	}
	s := thumbs.New(d.Files, thumbs.Options{Log: d.Log})
	if d.Registry != nil {
		d.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "imagenes_thumbnails_generated_total",
			Help: "Thumbnails generated (cache misses that decoded an image).",
		}, func() float64 { return float64(s.Generated()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "imagenes_thumbnail_decodes_total",
				Help: "Decodes of an image's pixels for a thumbnail, whether they succeeded or not (a file that failed is remembered, not decoded again).",
			}, func() float64 { return float64(s.Decodes()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "imagenes_thumbnail_cache_write_errors_total",
				Help: "Thumbnails generated whose cache entry could not be written (a full or read-only storage); each was served from memory.",
			}, func() float64 { return float64(s.CacheWriteErrors()) }))
	}
	return s
}
