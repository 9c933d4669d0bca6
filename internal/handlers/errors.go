package handlers

import (
	"context"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/thumbs"
	"github.com/imagenes/imagenes/internal/trash"
)

// Errors of request parsing, mapped to status below.
var (
	errBadID       = errors.New("id is not a positive integer in range")
	errBadQuery    = errors.New("bad query parameter")
	errBadBody     = errors.New("bad request body")
	errNoFile      = errors.New("no file in the upload")
	errFileMissing = errors.New("image file missing on disk")
)

// statusTable maps errors to a status and each family's default message;
// the first entry that errors.Is matches wins. A route can give its own
// message for a status with messages.wrap.
var statusTable = []struct {
	target  error
	status  int
	mensaje string // Balsamoa family: {"mensaje": ...}
	cat     string // Cat Data family: {"error": ...}
}{
	{errCrossSite, fiber.StatusForbidden, "Solicitud de otro sitio rechazada: use el encabezado Authorization", "Cross-site request refused."},
	{auth.ErrForbidden, fiber.StatusForbidden, "Acceso denegado: se requiere rol de administrador", "Forbidden"},
	{auth.ErrUnauthorized, fiber.StatusUnauthorized, "Token no proporcionado o inválido", "Unauthorized"},
	{errBadID, fiber.StatusBadRequest, "El ID debe ser un número válido", "Invalid id."},
	{errBadQuery, fiber.StatusBadRequest, "Parámetro de consulta inválido", "Invalid query parameter."},
	{errFraming, fiber.StatusBadRequest, "Solicitud mal formada: longitud del cuerpo ambigua", "Malformed request: ambiguous body length."},
	{errBadBody, fiber.StatusBadRequest, "Cuerpo de la solicitud inválido", "Invalid request body."},
	{errNoFile, fiber.StatusBadRequest, "No se recibió ningún archivo", "Missing file to upload."},
	{errUploadTooSlow, fiber.StatusRequestTimeout, "La subida es demasiado lenta (menos de 4 KiB/s tras los primeros segundos); la imagen no se guardó", "Upload too slow (under 4 KiB/s after the first seconds); the image was not stored."},
	{errBrokenUpload, fiber.StatusBadRequest, "La subida llegó incompleta o mal formada; la imagen no se guardó", "Upload incomplete or malformed; the image was not stored."},
	{errBodiesBusy, fiber.StatusServiceUnavailable, "El servidor está recibiendo demasiados datos; reintente en unos segundos", "Too much request data in flight; retry shortly."},
	{errUploadsBusy, fiber.StatusServiceUnavailable, "Demasiadas subidas en curso; reintente en unos segundos", "Too many uploads in progress; retry shortly."},
	{catalog.ErrBulkTooLarge, fiber.StatusRequestEntityTooLarge, "Demasiadas imágenes en una solicitud", "Too many ids in one request."},
	{storage.ErrTooLarge, fiber.StatusRequestEntityTooLarge, "El archivo supera el límite de 5 MB", "File too large (max 10MB)."},
	{storage.ErrNotImage, fiber.StatusUnsupportedMediaType, "Solo se aceptan imágenes (jpg, png, webp, gif)", "Only JPEG and PNG images are accepted."},
	{storage.ErrEmpty, fiber.StatusBadRequest, "El archivo está vacío", "Empty file."},
	{storage.ErrNoSpace, fiber.StatusInsufficientStorage, "No queda espacio en el almacenamiento; la imagen no se guardó", "Storage full; the image was not stored."},
	{thumbs.ErrBadWidth, fiber.StatusBadRequest, "El ancho de la miniatura (w) debe ser 64, 128, 256, 512 o 1024", "Thumbnail width (w) must be 64, 128, 256, 512 or 1024."},
	{errNeverThumbnailable, fiber.StatusUnprocessableEntity, "La imagen es demasiado grande: decodificada ocuparía más de 200 MB y no se le pueden generar miniaturas; la imagen no se guardó", "Image too large: over 200 MB decoded, no thumbnail could ever be made of it; the image was not stored."},
	{thumbs.ErrTooLarge, fiber.StatusUnprocessableEntity, "La imagen es demasiado grande para generar su miniatura (más de 200 MB decodificada)", "The image is too large to thumbnail (over 200 MB decoded)."},
	{thumbs.ErrBusy, fiber.StatusServiceUnavailable, "La miniatura no estuvo lista a tiempo; reintente en unos segundos", "Thumbnail not ready in time; retry shortly."},
	{thumbs.ErrNotImage, fiber.StatusUnprocessableEntity, "El archivo no es una imagen que se pueda decodificar", "The file is not a decodable image."},
	{errNoThumbs, fiber.StatusNotImplemented, "Este almacenamiento no guarda miniaturas", "Thumbnails are not available on this storage."},
	{errPassBusy, fiber.StatusConflict, "Otra pasada del conserje está en curso; intente de nuevo en unos segundos", "Another janitor pass is running."},
	{errNoJanitor, fiber.StatusNotImplemented, "El conserje no está disponible en este proceso", "No janitor in this process."},
	{errFileMissing, fiber.StatusNotFound, "Archivo no encontrado", "Image file not found."},
	{trash.ErrURLNotCanonical, fiber.StatusConflict, "La URL de la imagen no está en forma canónica (barras dobles, segmentos «.» o «..») y nombra un archivo publicado: corrija la URL antes de eliminar la imagen", "The image url is not canonical and names a published file; fix the url before deleting the image."},
	{repo.ErrNotFound, fiber.StatusNotFound, "Recurso no encontrado", "Not found."},
	{repo.ErrConflict, fiber.StatusConflict, "Conflicto con el estado actual", "Conflict."},
	{repo.ErrInvalid, fiber.StatusBadRequest, "Valor inválido", "Invalid value."},
	{repo.ErrUnavailable, fiber.StatusServiceUnavailable, "Base de datos no disponible, intente de nuevo", "Service unavailable, try again."},
	{storage.ErrUnavailable, fiber.StatusServiceUnavailable, "Almacenamiento no disponible, intente de nuevo", "Storage unavailable, try again."},
	{context.DeadlineExceeded, fiber.StatusServiceUnavailable, "La solicitud tardó demasiado, intente de nuevo", "Request timed out, try again."},
}

// Default messages for statuses that come from Fiber itself (unknown route,
// body too large, wrong method) or from nowhere in the table.
var fallback = map[int][2]string{
	fiber.StatusNotFound: {"Ruta no encontrada", "Not found."},
	// fasthttp's own 400s (a header it cannot parse) carry its parser's
	// text and the raw request, token included: never echoed.
	fiber.StatusBadRequest:                  {"Solicitud mal formada", "Bad request."},
	fiber.StatusRequestHeaderFieldsTooLarge: {"Encabezados de la solicitud demasiado grandes", "Request header fields too large."},
	fiber.StatusMethodNotAllowed:            {"Método no permitido", "Method not allowed."},
	fiber.StatusRequestEntityTooLarge:       {"El archivo supera el límite de 5 MB", "File too large (max 10MB)."},
	fiber.StatusRequestTimeout:              {"Tiempo de espera agotado", "Request timeout."},
	fiber.StatusInternalServerError:         {"Error interno del servidor", "Internal server error."},
}

// messages are the texts one route gives per status, in its family's
// language, overriding the table's defaults.
type messages map[int]string

type routeError struct {
	err  error
	msgs messages
}

func (e *routeError) Error() string { return e.err.Error() }
func (e *routeError) Unwrap() error { return e.err }

// wrap attaches the route's messages to err (nil stays nil).
func (m messages) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &routeError{err: err, msgs: m}
}

// family says which body shape a path's errors use.
type family int

const (
	familyOther    family = iota // {"error"}: static, ops
	familyBalsamoa               // {"mensaje"}: /api/v1/...
	familyCat                    // {"error"}: /api/...
)

func familyOf(path string) family {
	switch {
	case strings.HasPrefix(path, "/api/v1/"):
		return familyBalsamoa
	case strings.HasPrefix(path, "/api/"):
		return familyCat
	}
	return familyOther
}

// balsamoaTooLarge: Balsamoa answers an oversized upload with 400, not 413.
const balsamoaTooLarge = fiber.StatusBadRequest

// errorHandler is the one place errors become statuses and bodies. A 500
// never echoes err.Error(): the details go to the log with the request id.
func errorHandler(log *zap.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, mensaje, cat := classify(err)
		fam := familyOf(c.Path())
		if fam == familyBalsamoa && (status == fiber.StatusRequestEntityTooLarge || status == fiber.StatusUnsupportedMediaType) {
			if strings.HasSuffix(c.Path(), "/imagenes/subir") {
				status = balsamoaTooLarge
			} else if status == fiber.StatusRequestEntityTooLarge {
				// Any other Balsamoa route (a JSON body): a 413 in its
				// own words, not the upload's "archivo" message.
				mensaje = "El cuerpo de la solicitud supera el límite de 10 MB"
			}
		}
		var re *routeError
		if errors.As(err, &re) {
			if m, ok := re.msgs[status]; ok {
				mensaje, cat = m, m
			}
		}
		if status >= 500 {
			log.Error("request failed", zap.String("request_id", requestID(c)), zap.String("path", utils.CopyString(c.Path())), zap.Error(err))
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		if fam == familyOther && (status == fiber.StatusRequestEntityTooLarge || status == fiber.StatusRequestHeaderFieldsTooLarge || status == fiber.StatusBadRequest) {
			// fasthttp refuses an oversized chunked body, too large or
			// unparsable headers before routing and resets the request, so
			// its path (and family) is lost: answer in both shapes. Browsers send Content-Length, whose refusal
			// keeps the path and gets the family's exact answer.
			return c.Status(status).JSON(fiber.Map{"mensaje": mensaje, "error": cat})
		}
		if fam == familyBalsamoa {
			return c.Status(status).JSON(fiber.Map{"mensaje": mensaje})
		}
		return c.Status(status).JSON(fiber.Map{"error": cat})
	}
}

func classify(err error) (status int, mensaje, cat string) {
	for _, row := range statusTable {
		if errors.Is(err, row.target) {
			return row.status, row.mensaje, row.cat
		}
	}
	status = fiber.StatusInternalServerError
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status = fe.Code
	}
	if m, ok := fallback[status]; ok {
		return status, m[0], m[1]
	}
	if fe != nil {
		return status, fe.Message, fe.Message
	}
	m := fallback[fiber.StatusInternalServerError]
	return status, m[0], m[1]
}
