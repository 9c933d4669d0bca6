package handlers

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"

	"github.com/imagenes/imagenes/internal/auth"
)

// adminFiles is the admin page (SPEC §11): plain HTML, CSS and JavaScript
// against the JSON API, embedded so the binary is the whole deployment and
// no Node build step exists.
//
//go:embed adminpage/*
var adminFiles embed.FS

var adminTemplates = template.Must(template.ParseFS(adminFiles, "adminpage/*.html"))

type tokenVerifier interface {
	Verify(ctx context.Context, raw string) (auth.User, error)
}

// adminPage serves /admin and its sign-in. The session is the `token`
// cookie holding the pasted token itself: the API already accepts it
// (Balsamoa's panel uses the same cookie), so the page needs no session
// store; HttpOnly keeps it from scripts, SameSite=Strict and the
// cross-site middleware keep other sites from using it.
type adminPage struct {
	auth tokenVerifier
	// bulk: the bulk delete route (SPEC §10) is served and takes up to
	// this many ids (the catalogue's BulkLimit: fewer on a bucket), so the
	// page sends one request per that many selected images instead of one
	// per image; 0 when the route is not served.
	bulk int
}

// adminCSP allows only this origin's script and style (no inline code), and
// images from here or a product's external url.
const adminCSP = "default-src 'self'; img-src 'self' data: https: http:; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (p *adminPage) render(c *fiber.Ctx, status int, name string, data any) error {
	var b bytes.Buffer
	if err := adminTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Content-Security-Policy", adminCSP)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	return c.Status(status).Send(b.Bytes())
}

// signInMessages are the sign-in form's messages, by the code a failed
// sign-in redirects with (never the text itself: a link cannot put words on
// the page).
var signInMessages = map[string]string{
	"vacio":    "Pegue un token para ingresar.",
	"invalido": "Token inválido o vencido.",
	"no-admin": "El token es válido pero no es de un administrador.",
	"vencido":  "La sesión expiró o el token ya no es válido: vuelva a ingresar.",
	"salida":   "Sesión cerrada.",
}

// page: GET /admin — the app for a signed-in admin, else the sign-in form,
// with the message of ?error= when it names one.
func (p *adminPage) page(c *fiber.Ctx) error {
	msg := signInMessages[c.Query("error")]
	if tok := c.Cookies("token"); tok != "" {
		u, err := p.auth.Verify(c.UserContext(), tok)
		if err == nil && u.Admin {
			return p.render(c, fiber.StatusOK, "app.html", map[string]any{"Usuario": u.Sub, "Bulk": p.bulk})
		}
		msg = signInMessages["vencido"]
		if err == nil {
			msg = signInMessages["no-admin"]
		}
	}
	return p.render(c, fiber.StatusOK, "login.html", map[string]string{"Mensaje": msg})
}

// signIn: POST /admin/sesion, form field token → 303 to /admin with the
// cookie, or 303 back to the form with the reason (a redirect, not a 401
// page, so the browser's console stays clean and a reload does not post
// the token again). The token is read from the form body only: c.FormValue
// also read the query string, where a credential ends up in access logs,
// proxies and the browser's history (and a link could carry a foreign
// token). A sign-in from another site is refused before this runs
// (sameSiteCookieWrites): it would set a foreign page's token as the
// victim's cookie.
func (p *adminPage) signIn(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	tok := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(formBodyValue(c, "token")), "Bearer "))
	if tok == "" {
		return c.Redirect("/admin?error=vacio", fiber.StatusSeeOther)
	}
	u, err := p.auth.Verify(c.UserContext(), tok)
	switch {
	case err != nil:
		return c.Redirect("/admin?error=invalido", fiber.StatusSeeOther)
	case !u.Admin:
		return c.Redirect("/admin?error=no-admin", fiber.StatusSeeOther)
	}
	c.Cookie(&fiber.Cookie{Name: "token", Value: utils.CopyString(tok), Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
	return c.Redirect("/admin", fiber.StatusSeeOther)
}

// formBodyValue is the form field key from the request body alone
// (urlencoded or multipart), never from the query string.
func formBodyValue(c *fiber.Ctx, key string) string {
	if strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEMultipartForm) {
		f, err := c.MultipartForm()
		if err != nil || len(f.Value[key]) == 0 {
			return ""
		}
		return f.Value[key][0]
	}
	return string(c.Request().PostArgs().Peek(key))
}

// signOut: POST /admin/salir clears the cookie.
func (p *adminPage) signOut(c *fiber.Ctx) error {
	c.Cookie(&fiber.Cookie{Name: "token", Value: "", Path: "/", Expires: fasthttp.CookieExpireDelete, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect("/admin?error=salida", fiber.StatusSeeOther)
}

// hasRoute reports whether app serves method path (after every route is
// registered).
func hasRoute(app *fiber.App, method, path string) bool {
	for _, r := range app.GetRoutes(true) {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}

// assetHandler serves GET /admin/app.js and /admin/app.css; no-cache, so a
// browser revalidates and a new binary never runs an old script.
func assetHandler(name, contentType string) fiber.Handler {
	b, err := adminFiles.ReadFile("adminpage/" + name)
	if err != nil {
		panic("admin page asset missing from the embed: " + name) // a build defect, caught by every test
	}
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, contentType)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("X-Content-Type-Options", "nosniff")
		return c.Send(b)
	}
}
