package handlers

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/thumbs"
)

// Request bodies are streamed (fiber.Config.StreamRequestBody): fasthttp
// reads the headers and at most 8 KiB of the body before the handlers run.
// An upload's multipart body then goes part by part straight into its
// staging file, never whole into memory (fasthttp used to hold the body and
// then a copy of its file part: ~2× the upload per request in flight).
// Every other route's body is read here, up to its limit, so c.Body() keeps
// working for them.
//
// The rule that comes with streaming: a request whose body was not read to
// its end closes the connection after the answer. Otherwise the unread rest
// of the body would be parsed as the next request on that connection — a
// smuggled request (a 401 before an upload's body, a 503 when the uploads
// are busy, a refused cross-site write).

// Errors of streamed bodies, mapped to status in errors.go.
var (
	// errBrokenUpload: the multipart body ended early or is malformed
	// after its file part began (a client that went away, a proxy that cut
	// it); before that, an unreadable form is errNoFile.
	errBrokenUpload = errors.New("upload body broken or incomplete")
	// errNeverThumbnailable: the image's header declares more than a
	// thumbnail may decode (thumbs.CheckUpload); 422, nothing stored.
	errNeverThumbnailable = errors.New("image too large to ever be thumbnailed")
)

// bodyKey holds, in c.Locals, an upload route's body still to be read.
type bodyKey struct{}

// limitedBody reads a request body up to limit bytes; one byte more is
// storage.ErrTooLarge. It remembers whether it reached the body's end.
type limitedBody struct {
	r     io.Reader // nil: no body
	n     int64
	limit int64
	eof   bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.r == nil || b.eof {
		b.eof = true
		return 0, io.EOF
	}
	if room := b.limit - b.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		return n, storage.ErrTooLarge
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// isUploadRoute: the two routes whose body streams into staging. Fiber
// routes case-insensitively and ignores a trailing slash, so this does too.
func isUploadRoute(path string) bool {
	p := strings.TrimSuffix(path, "/")
	return strings.EqualFold(p, "/api/image") || strings.EqualFold(p, "/api/v1/admin/imagenes/subir")
}

// streamedBodies enforces each request's body limit (bodyLimitFor, the
// same rule as bodyGate) on the streamed body: a Content-Length over it is
// refused before a byte is read, a chunked body when it crosses it. Upload
// routes get the body as a reader (c.Locals(bodyKey{})); every other route
// gets it read into c.Body().
//
// Bodies read into memory take their room in budget first (bodyBudget).
func streamedBodies(budget *bodyBudget) fiber.Handler {
	return func(c *fiber.Ctx) error {
		upload := isUploadRoute(c.Path())
		limit := int64(bodyLimitFor(&c.Request().Header))
		if cl := c.Request().Header.ContentLength(); cl > 0 && int64(cl) > limit {
			c.Context().SetConnectionClose()
			return tooLarge(upload)
		}
		body := &limitedBody{r: c.Context().RequestBodyStream(), limit: limit}
		if upload {
			c.Locals(bodyKey{}, body)
			err := c.Next()
			if !body.eof {
				c.Context().SetConnectionClose()
			}
			return err
		}
		if body.r == nil {
			return c.Next()
		}
		cl := c.Request().Header.ContentLength()
		release, err := budget.reserve(c, cl, limit)
		if err != nil {
			c.Context().SetConnectionClose()
			return err
		}
		defer release()
		b, err := readBody(body, cl)
		if err != nil {
			c.Context().SetConnectionClose()
			if errors.Is(err, storage.ErrTooLarge) {
				return tooLarge(false)
			}
			return errBadBody
		}
		c.Request().SetBodyRaw(b) // no copy: b is the one buffer the budget counts
		restartDeadline(c)
		return c.Next()
	}
}

func tooLarge(upload bool) error {
	if upload {
		return storage.ErrTooLarge
	}
	return fiber.ErrRequestEntityTooLarge
}

// stageUpload streams the file part named field of the request's multipart
// body into staging (files.Stage judges its type and size) and reads the
// body to its end, so the connection can serve the next request. A form
// with no such file part is errNoFile.
func stageUpload(c *fiber.Ctx, slots *uploadSlots, files stager, field string, limit int64, types []string) (*storage.Staged, error) {
	boundary := string(c.Request().Header.MultipartFormBoundary())
	if boundary == "" {
		return nil, errNoFile
	}
	var body io.Reader
	if lb, ok := c.Locals(bodyKey{}).(*limitedBody); ok {
		body = slots.pace(c, lb)
	} else { // not through streamedBodies (a route alias): already read
		body = bytes.NewReader(c.Body())
	}
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, storage.ErrTooLarge) || errors.Is(err, errUploadTooSlow) {
			return nil, err
		}
		if err != nil {
			return nil, errNoFile
		}
		if p.FormName() != field || p.FileName() == "" {
			continue
		}
		head := headPool.Get().(*[]byte)
		defer func() { *head = (*head)[:0]; headPool.Put(head) }()
		hk := &headKeeper{r: partReader{p}, head: *head}
		st, err := files.Stage(c.UserContext(), hk, limit, types)
		*head = hk.head
		if err != nil {
			return nil, err
		}
		// Refused before it is published: an image no thumbnail can ever
		// be made of (its header declares more than thumbs allows decoded).
		if err := thumbs.CheckUpload(hk.head); err != nil {
			return nil, errors.Join(errNeverThumbnailable, err, files.Discard(c.UserContext(), st))
		}
		// The rest of the form (other fields, the closing boundary) is read
		// and dropped, within the body's limit.
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, errors.Join(uploadErr(err), files.Discard(c.UserContext(), st))
		}
		restartDeadline(c)
		return st, nil
	}
}

// uploadHeadSize is how much of an upload's start is kept for
// thumbs.CheckUpload: a PNG, GIF or WebP header is in its first bytes, a
// JPEG's frame header after its metadata segments (EXIF, ICC: up to 64 KiB
// each). A header further in is judged by the thumbnail route instead.
const uploadHeadSize = 128 << 10

// headPool recycles the kept starts: 32 uploads in flight would otherwise
// allocate 4 MiB per round.
var headPool = sync.Pool{New: func() any { b := make([]byte, 0, uploadHeadSize); return &b }}

// headKeeper keeps the first cap(head) bytes read through it.
type headKeeper struct {
	r    io.Reader
	head []byte
}

func (h *headKeeper) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if room := cap(h.head) - len(h.head); room > 0 && n > 0 {
		h.head = append(h.head, p[:min(n, room)]...)
	}
	return n, err
}

// partReader tells a broken body (errBrokenUpload) from a file over its
// limit (storage.ErrTooLarge) when the file part is read.
type partReader struct{ p *multipart.Part }

func (r partReader) Read(b []byte) (int, error) {
	n, err := r.p.Read(b)
	if err != nil && err != io.EOF {
		err = uploadErr(err)
	}
	return n, err
}

func uploadErr(err error) error {
	if errors.Is(err, storage.ErrTooLarge) || errors.Is(err, errUploadTooSlow) {
		return err
	}
	return errors.Join(errBrokenUpload, err)
}
