package handlers

import (
	"bytes"
	"errors"

	"github.com/gofiber/fiber/v2"
)

// errFraming: the request's length is ambiguous (RFC 9112 §6.1–6.3).
var errFraming = errors.New("ambiguous message framing")

// framing refuses, with a 400 that closes the connection, a request whose
// body length two HTTP parsers could read differently — the ground of
// request smuggling behind a proxy: a Transfer-Encoding other than exactly
// "chunked", Transfer-Encoding together with Content-Length, Content-Length
// headers that disagree or are not a number, and header names with
// whitespace. fasthttp takes any Transfer-Encoding value as chunked and the
// last Content-Length, so the check reads the raw header block it kept
// aside. Closing matters: the bytes after the body may be a hidden request.
func framing() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if ambiguousFraming(c.Request().Header.RawHeaders()) {
			c.Context().SetConnectionClose()
			return errFraming
		}
		return c.Next()
	}
}

func ambiguousFraming(raw []byte) bool {
	var te, cl [][]byte
	for _, line := range bytes.Split(raw, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		if len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return true
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte(fiber.HeaderTransferEncoding)):
			te = append(te, value)
		case bytes.EqualFold(name, []byte(fiber.HeaderContentLength)):
			cl = append(cl, value)
		}
	}
	if len(te) > 0 && (len(te) > 1 || len(cl) > 0 || !bytes.EqualFold(te[0], []byte("chunked"))) {
		return true
	}
	for _, v := range cl {
		if len(v) == 0 || !bytes.Equal(v, cl[0]) {
			return true
		}
		for _, b := range v {
			if b < '0' || b > '9' {
				return true
			}
		}
	}
	return false
}
