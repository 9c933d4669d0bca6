package handlers

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// anonBodyLimit is the most a request may send when it carries no token
// (no Authorization header, no token cookie) or goes to a route that takes
// no upload: room for a JSON body or a small refused form, nothing more.
const anonBodyLimit = 64 << 10

// bodyGate decides each request's body limit from its header alone, before
// fasthttp reads the body: only a request to an upload route or a product
// write that carries a token may send up to bodyLimit. Without it, 100
// concurrent 10 MiB posts to /healthz were all read into memory before
// routing (21 MB → 2.2 GB). A body over the limit is a 413 and the
// connection is closed; the token itself is checked later, by the route.
//
// With streamed bodies fasthttp only reads ahead what this allows (at most
// 8 KiB) and leaves the rest to streamedBodies, which enforces the same
// limit (bodyLimitFor) on the stream.
func bodyGate(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	return fasthttp.RequestConfig{MaxRequestBodySize: bodyLimitFor(h)}
}

// bodyLimitFor is a request's body limit, from its header alone.
func bodyLimitFor(h *fasthttp.RequestHeader) int {
	p := h.RequestURI()
	if i := bytes.Index(p, []byte("://")); i >= 0 && bytes.IndexByte(p[:i], '/') < 0 {
		// absolute-form target (http://host/path): keep the path
		p = p[i+3:]
		if j := bytes.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			p = nil
		}
	}
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	big := bytes.EqualFold(bytes.TrimSuffix(p, []byte("/")), []byte("/api/image")) || bytes.HasPrefix(bytes.ToLower(p), []byte("/api/v1/admin/"))
	authed := len(h.Peek(fasthttp.HeaderAuthorization)) > 0 || len(h.Cookie("token")) > 0
	if big && authed {
		return bodyLimit
	}
	return anonBodyLimit
}
