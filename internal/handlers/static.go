package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/storage"
)

type staticFiles interface {
	OpenLive(ctx context.Context, url string) (storage.File, error)
}

// staticHandler serves live files under /recursos/. Names never change (a
// new upload gets a new uuid), so responses are cacheable for a year.
type staticHandler struct {
	files  staticFiles
	thumbs thumbMaker // nil: the storage keeps no thumbnails
	links  redirector
	// stamps and cache: on a folder, small files are answered from
	// memory while their Stamp is unchanged (staticcache.go).
	stamps stamper
	cache  staticCache
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
	if c.Request().URI().QueryArgs().Has("w") {
		return h.thumbnail(c, u)
	}
	if h.links.on() {
		// The url expires, so the redirect itself is never cached.
		err := h.links.redirect(c, u, "no-store")
		if errors.Is(err, storage.ErrNotExist) || errors.Is(err, storage.ErrUnsafePath) {
			return fiber.ErrNotFound
		}
		return err
	}
	var want storage.Stamp
	if h.stamps != nil {
		// Every answer, cached or not, starts from the file's identity now:
		// gone (deleted, moved to the trash) is a 404 at once, a symlink or
		// a folder too, whatever the cache holds.
		st, err := h.stamps.LiveStamp(c.UserContext(), u)
		if err != nil {
			h.cache.drop(u)
			return notFoundOr(err)
		}
		if e := h.cache.get(u); e != nil {
			if e.stamp == st {
				return h.serveEntry(c, u, e)
			}
			h.cache.drop(u)
		}
		want = st
	}
	f, err := h.files.OpenLive(c.UserContext(), u)
	if err != nil {
		return notFoundOr(err)
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		return fiber.ErrNotFound
	}
	if h.stamps != nil {
		e, err := loadEntry(u, f, info)
		if err != nil {
			f.Close()
			return err
		}
		if e != nil {
			f.Close()
			// Cached only when the file opened is the one stamped: read
			// under a replacement between the two, it answers this once.
			if e.stamp == want {
				h.cache.put(u, e)
			}
			return h.serveEntry(c, u, e)
		}
	}
	c.Set(fiber.HeaderETag, etagOf(info.Size(), info.ModTime()))
	c.Set(fiber.HeaderLastModified, info.ModTime().UTC().Format(http.TimeFormat))
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderContentType, contentTypeOf(u))
	if conditional(c) {
		// Range, If-Range and the validators (lists, weak tags, *) follow
		// net/http's rules exactly: http.ServeContent decides and writes
		// into a shim. Only these requests take this path; the plain GET
		// streams below without buffering.
		defer f.Close()
		return serveContent(c, u, info.ModTime(), f)
	}
	if c.Method() == fiber.MethodHead {
		f.Close()
		c.Set(fiber.HeaderContentLength, strconv.FormatInt(info.Size(), 10))
		return nil
	}
	return c.SendStream(f, int(info.Size()))
}

// serveEntry answers from a cached file: its headers were computed once,
// and the body is one write with no file touched.
func (h *staticHandler) serveEntry(c *fiber.Ctx, u string, e *staticEntry) error {
	hd := &c.Response().Header
	hd.SetCanonical(headerETag, []byte(e.etag))
	hd.SetCanonical(headerLastModified, []byte(e.lastMod))
	hd.SetCanonical(headerCacheControl, valueImmutable)
	hd.SetCanonical(headerNoSniff, valueNoSniff)
	hd.SetContentType(e.ctype)
	if conditional(c) {
		return serveContent(c, u, e.modTime, bytes.NewReader(e.body))
	}
	if c.Method() == fiber.MethodHead {
		c.Set(fiber.HeaderContentLength, strconv.Itoa(len(e.body)))
		return nil
	}
	// The body is shared by every answer and never written to.
	c.Response().SetBodyRaw(e.body)
	return nil
}

var (
	headerETag         = []byte(fiber.HeaderETag)
	headerLastModified = []byte(fiber.HeaderLastModified)
	headerCacheControl = []byte(fiber.HeaderCacheControl)
	headerNoSniff      = []byte("X-Content-Type-Options")
	valueImmutable     = []byte("public, max-age=31536000, immutable")
	valueNoSniff       = []byte("nosniff")
)

// notFoundOr: a missing file, a refused path or a symlink is a 404; any
// other error (an I/O fault) is not a "no" and is answered as the error.
func notFoundOr(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, storage.ErrNotExist) || errors.Is(err, storage.ErrUnsafePath) {
		return fiber.ErrNotFound
	}
	return err
}

func conditional(c *fiber.Ctx) bool {
	for _, h := range []string{fiber.HeaderRange, fiber.HeaderIfRange, fiber.HeaderIfNoneMatch, fiber.HeaderIfModifiedSince, fiber.HeaderIfMatch, fiber.HeaderIfUnmodifiedSince} {
		if len(c.Request().Header.Peek(h)) > 0 {
			return true
		}
	}
	return false
}

// serveContent answers through http.ServeContent. The headers already set
// (ETag, Last-Modified, Content-Type, caching) are handed to it, so it
// compares against our ETag; its status, headers and body are copied back.
func serveContent(c *fiber.Ctx, u string, modTime time.Time, f io.ReadSeeker) error {
	r, err := http.NewRequestWithContext(c.UserContext(), c.Method(), "/", nil)
	if err != nil {
		return fiber.ErrBadRequest
	}
	for _, h := range []string{fiber.HeaderRange, fiber.HeaderIfRange, fiber.HeaderIfNoneMatch, fiber.HeaderIfModifiedSince, fiber.HeaderIfMatch, fiber.HeaderIfUnmodifiedSince} {
		if v := c.Request().Header.Peek(h); len(v) > 0 {
			r.Header.Set(h, string(v))
		}
	}
	w := &responseShim{c: c, header: http.Header{}}
	c.Response().Header.VisitAll(func(k, v []byte) { w.header.Add(string(k), string(v)) })
	src := &readWatch{r: f}
	http.ServeContent(w, r, path.Base(u), modTime, src)
	if src.err != nil {
		// ServeContent does not report a failed read: it would send what
		// it got as a whole 200 or 206. The answer is the error instead,
		// without the image's validators and range.
		c.Response().ResetBody()
		for _, h := range []string{fiber.HeaderETag, fiber.HeaderLastModified, fiber.HeaderContentRange, fiber.HeaderAcceptRanges, fiber.HeaderContentType} {
			c.Response().Header.Del(h)
		}
		return fmt.Errorf("serve %s: %w", u, src.err)
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// readWatch keeps the first error of a read or seek other than io.EOF.
type readWatch struct {
	r   io.ReadSeeker
	err error
}

func (x *readWatch) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	x.note(err)
	return n, err
}

func (x *readWatch) Seek(off int64, whence int) (int64, error) {
	n, err := x.r.Seek(off, whence)
	x.note(err)
	return n, err
}

func (x *readWatch) note(err error) {
	if err != nil && !errors.Is(err, io.EOF) && x.err == nil {
		x.err = err
	}
}

// responseShim is the http.ResponseWriter http.ServeContent writes to.
type responseShim struct {
	c      *fiber.Ctx
	header http.Header
	status int
}

func (w *responseShim) Header() http.Header { return w.header }

func (w *responseShim) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	w.c.Status(code)
	for k, vs := range w.header {
		w.c.Response().Header.Del(k)
		for _, v := range vs {
			w.c.Response().Header.Add(k, v)
		}
	}
	if code >= 400 {
		// ServeContent's error texts are plain; keep the JSON-free answer
		// but never cache it.
		w.c.Set(fiber.HeaderCacheControl, "no-store")
	}
}

func (w *responseShim) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.c.Method() == fiber.MethodHead {
		return len(b), nil
	}
	w.c.Response().AppendBody(b)
	return len(b), nil
}

// contentTypeOf guesses from the extension; uploads only ever get the
// extension of the type judged from their bytes.
func contentTypeOf(u string) string {
	if ct := mime.TypeByExtension(path.Ext(u)); ct != "" {
		return ct
	}
	return "application/octet-stream"
}
