package handlers

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/storage"
)

type staticFiles interface {
	OpenLive(url string) (*os.File, error)
}

// staticHandler serves live files under /recursos/. Names never change (a
// new upload gets a new uuid), so responses are cacheable for a year.
type staticHandler struct {
	files staticFiles
}

// serve: GET|HEAD /recursos/*. The raw path is decoded once here and then
// validated by storage.RelPath, so "..", encoded or double-encoded dots,
// backslashes and NUL are a 404, and the open goes through an os.Root so a
// symlink out of the storage folder is never followed. No listings.
func (h *staticHandler) serve(c *fiber.Ctx) error {
	raw := c.Params("*")
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return fiber.ErrNotFound
	}
	u := storage.LivePrefix + dec
	if _, err := storage.RelPath(u); err != nil {
		return fiber.ErrNotFound
	}
	f, err := h.files.OpenLive(u)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, storage.ErrNotExist) || errors.Is(err, storage.ErrUnsafePath) {
			return fiber.ErrNotFound
		}
		return err
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		return fiber.ErrNotFound
	}
	etag := `"` + strconv.FormatInt(info.Size(), 36) + "-" + strconv.FormatInt(info.ModTime().UnixNano(), 36) + `"`
	lastMod := info.ModTime().UTC().Format(http.TimeFormat)
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderLastModified, lastMod)
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderContentType, contentTypeOf(u))
	if notModified(c, etag, info) {
		f.Close()
		return c.SendStatus(fiber.StatusNotModified)
	}
	if c.Method() == fiber.MethodHead {
		f.Close()
		c.Set(fiber.HeaderContentLength, strconv.FormatInt(info.Size(), 10))
		return nil
	}
	return c.SendStream(f, int(info.Size()))
}

func notModified(c *fiber.Ctx, etag string, info fs.FileInfo) bool {
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" {
		return inm == etag || inm == "*"
	}
	if ims := c.Get(fiber.HeaderIfModifiedSince); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !info.ModTime().Truncate(1e9).After(t)
	}
	return false
}

// contentTypeOf guesses from the extension; uploads only ever get the
// extension of the type judged from their bytes.
func contentTypeOf(u string) string {
	if ct := mime.TypeByExtension(path.Ext(u)); ct != "" {
		return ct
	}
	return "application/octet-stream"
}
