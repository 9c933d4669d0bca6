package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// Limits of a product body, from Balsamoa's columns where it has them.
const (
	maxNombre      = 150   // varchar(150)
	maxDescripcion = 20000 // text: a bound so one request cannot store megabytes
	maxURL         = 255   // producto_imagenes.url varchar(255)
	maxImagenes    = 200
)

// optional is a JSON field that can be absent, null, or a value: a PUT
// leaves absent fields alone and sets null ones to NULL.
type optional[T any] struct {
	Set, Null bool
	V         T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// productoBody is the JSON of POST and PUT /api/v1/admin/productos. Unknown
// fields are ignored: Balsamoa's panel may send more than we store.
type productoBody struct {
	Nombre      optional[string]          `json:"nombre"`
	Descripcion optional[string]          `json:"descripcion"`
	Precio      optional[json.RawMessage] `json:"precio"`
	CategoriaID optional[int32]           `json:"categoria_id"`
	Destacado   optional[bool]            `json:"destacado"`
	Activo      optional[bool]            `json:"activo"`
	Imagenes    optional[[]imagenRefBody] `json:"imagenes"`
	// Variantes is read on a Balsamoa database only (variantes.go).
	Variantes optional[json.RawMessage] `json:"variantes"`
}

type imagenRefBody struct {
	URL   *string `json:"url"`
	Orden *int32  `json:"orden"`
}

// bad is a 400 with its own message, in the route's body shape.
func bad(msg string) error { return messages{fiber.StatusBadRequest: msg}.wrap(errBadBody) }

// precioRe: numeric(10,2), not negative, at most two decimals.
var precioRe = regexp.MustCompile(`^(0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?$`)

// parseProducto reads and validates a product body. creating requires
// nombre and precio; on a Balsamoa database (balsamoa) also categoria_id,
// and variantes are read, as Balsamoa's own routes do.
func parseProducto(body []byte, creating, balsamoa bool) (repo.ProductoCampos, []catalog.ImagenRef, error) {
	var b productoBody
	if len(bytes.TrimSpace(body)) == 0 || body[0] == '[' {
		return repo.ProductoCampos{}, nil, bad("El cuerpo debe ser un objeto JSON")
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return repo.ProductoCampos{}, nil, bad(jsonMessage(err))
	}
	var c repo.ProductoCampos
	switch {
	case b.Nombre.Set && !b.Nombre.Null:
		n := strings.TrimSpace(b.Nombre.V)
		if n == "" || utf8.RuneCountInString(n) > maxNombre || strings.ContainsRune(n, 0) {
			return c, nil, bad(fmt.Sprintf("El nombre es obligatorio y admite hasta %d caracteres", maxNombre))
		}
		c.Nombre = &n
	case creating || b.Nombre.Null:
		return c, nil, bad(fmt.Sprintf("El nombre es obligatorio y admite hasta %d caracteres", maxNombre))
	}
	if b.Descripcion.Null {
		c.ClearDescripcion = true
	} else if b.Descripcion.Set {
		if utf8.RuneCountInString(b.Descripcion.V) > maxDescripcion || strings.ContainsRune(b.Descripcion.V, 0) {
			return c, nil, bad(fmt.Sprintf("La descripción admite hasta %d caracteres", maxDescripcion))
		}
		c.Descripcion = &b.Descripcion.V
	}
	switch {
	case b.Precio.Set && !b.Precio.Null:
		p, ok := parsePrecio(b.Precio.V)
		if !ok {
			return c, nil, bad("El precio debe ser un número entre 0 y 99999999.99 con hasta 2 decimales")
		}
		c.Precio = &p
	case creating || b.Precio.Null:
		return c, nil, bad("El precio es obligatorio")
	}
	if b.CategoriaID.Null {
		c.ClearCategoria = true
	} else if b.CategoriaID.Set {
		if b.CategoriaID.V < 1 {
			return c, nil, bad("categoria_id debe ser un número positivo")
		}
		c.CategoriaID = &b.CategoriaID.V
	}
	if balsamoa {
		if creating && c.CategoriaID == nil {
			return c, nil, bad(msgCategoriaObligatoria)
		}
		if b.Variantes.Set && !b.Variantes.Null {
			vs, err := parseVariantes(b.Variantes.V, creating)
			if err != nil {
				return c, nil, err
			}
			c.Variantes = &vs
		}
	}
	if b.Destacado.Set && !b.Destacado.Null {
		c.Destacado = &b.Destacado.V
	}
	if b.Activo.Set && !b.Activo.Null {
		c.Activo = &b.Activo.V
	}
	if !b.Imagenes.Set || b.Imagenes.Null {
		return c, nil, nil // the set stays as it is
	}
	set, err := parseSet(b.Imagenes.V)
	return c, set, err
}

// parsePrecio accepts a JSON number or a string holding one ("12.50"), as
// Balsamoa's panel sends either.
func parsePrecio(raw json.RawMessage) (string, bool) {
	s := string(raw)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		s = strings.TrimSpace(s)
	}
	if !precioRe.MatchString(s) {
		return "", false
	}
	return s, true
}

// parseSet validates an image set: each url present, at most 255
// characters, unique in the set, and a local one must be a path inside the
// storage root. A missing orden is the element's position (1-based).
func parseSet(in []imagenRefBody) ([]catalog.ImagenRef, error) {
	if len(in) > maxImagenes {
		return nil, bad(fmt.Sprintf("Un producto admite hasta %d imágenes", maxImagenes))
	}
	set := make([]catalog.ImagenRef, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, r := range in {
		if r.URL == nil || strings.TrimSpace(*r.URL) == "" {
			return nil, bad(fmt.Sprintf("imagenes[%d]: la url es obligatoria", i))
		}
		u := *r.URL
		if len(u) > maxURL || !validText(u) {
			return nil, bad(fmt.Sprintf("imagenes[%d]: url inválida", i))
		}
		if storage.IsLocal(u) {
			if _, err := storage.RelPath(u); err != nil {
				return nil, bad(fmt.Sprintf("imagenes[%d]: url inválida", i))
			}
		} else if !externalURL(u) {
			// The shop publishes these urls in <img src>: javascript:,
			// data: or a relative path would be stored and served as is.
			return nil, bad(fmt.Sprintf("imagenes[%d]: la url debe empezar por http://, https:// o /recursos/", i))
		}
		if seen[u] {
			return nil, bad(fmt.Sprintf("imagenes[%d]: la url está repetida", i))
		}
		seen[u] = true
		orden := int32(i + 1)
		if r.Orden != nil {
			orden = *r.Orden
		}
		set = append(set, catalog.ImagenRef{URL: u, Orden: orden})
	}
	return set, nil
}

// validText: valid UTF-8 without control characters.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// jsonMessage turns a decoding error into a message for the client: which
// field has the wrong type, or that the JSON itself is broken.
func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return "Tipo inválido en el campo " + strconv.Quote(te.Field)
	}
	return "JSON inválido"
}

// externalURL: an absolute http(s) url with a host, the only external
// references an image may have.
func externalURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"))
}
