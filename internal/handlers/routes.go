// Package handlers holds the HTTP side of imagenes: Fiber routes, request
// and response shapes, and the one ErrorHandler that maps errors to statuses
// in the body shape of each API family ({"mensaje"} for Balsamoa's admin API,
// {"error"} for the Cat Data API). No SQL and no pgx here.
package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/catalog"
	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// Limits of the two upload routes.
const (
	balsamoaMaxUpload = 5 << 20
	catMaxUpload      = 10 << 20
	// bodyLimit caps every request body: the larger upload plus room for
	// the multipart framing. fasthttp cuts a larger body off with a 413
	// before any handler runs, so a 1 GiB stream costs no memory.
	bodyLimit = catMaxUpload + 64<<10
)

// Deps are what the routes need, built by the composition root.
type Deps struct {
	Store *repo.Store
	// Catalog runs uploads, image deletes, restores and product writes.
	Catalog *catalog.Service
	Files   storage.Backend
	// Redirect, when set, answers GET /recursos/* and /api/image/:id with a
	// 302 to a presigned url of the object instead of streaming it.
	Redirect Presigner
	// RedirectTTL is how long a presigned url is valid (default 5m).
	RedirectTTL time.Duration
	Auth        *auth.Auth
	Log         *zap.Logger
	Registry    *prometheus.Registry
	// Ready reports whether the database and storage are usable (/readyz).
	Ready          func(ctx context.Context) error
	RequestTimeout time.Duration
	// Balsamoa says which of Balsamoa's own tables the database has
	// (repo.DetectBalsamoa at start-up): the product reads and writes
	// answer and store in its shapes where it has them.
	Balsamoa repo.Balsamoa
	// Janitor runs the admin's dry passes with JanitorConfig (nil: 501);
	// JanitorConfig.Retention also tells the trash list when entries purge.
	Janitor       *janitor.Janitor
	JanitorConfig janitor.Config
	// ReadTimeout bounds how long a client may take to send a request
	// (headers and body); a slow client is cut off. 0 means 30s.
	ReadTimeout time.Duration
	// MaxUploads bounds the uploads streaming into staging at once (both
	// upload routes together); one more is a 503 with Retry-After. 0
	// means defaultMaxUploads.
	MaxUploads int
	// BodyBudget bounds the bytes of request bodies held in memory at once
	// across all requests (bodyBudget); one more is a 503 with Retry-After.
	// 0 means defaultBodyBudget; never less than the largest body.
	BodyBudget int64
	// CrossOrigin decides which cookie writes come from another site
	// (CrossOrigin(TRUSTED_ORIGINS)); nil trusts no other origin.
	CrossOrigin *http.CrossOriginProtection
	// UploadsPerCaller bounds one token subject's uploads in flight (0: a
	// quarter of MaxUploads, at least 1); UploadsAdminReserve is how many
	// of MaxUploads only admins may take (0: an eighth).
	UploadsPerCaller, UploadsAdminReserve int
	// UploadGrace and UploadMinRate: an upload slower than UploadMinRate
	// bytes a second on average once UploadGrace has passed is cut with 408
	// (0: 5 s and 4 KiB/s).
	UploadGrace   time.Duration
	UploadMinRate int
}

// NewApp builds the Fiber app with every route. main and the HTTP tests
// both use it, so the tests exercise exactly what runs.
func NewApp(d Deps) *fiber.App {
	if d.RequestTimeout == 0 {
		d.RequestTimeout = 10 * time.Second
	}
	if d.ReadTimeout == 0 {
		d.ReadTimeout = 30 * time.Second
	}
	app := fiber.New(fiber.Config{
		AppName:               "imagenes",
		ErrorHandler:          errorHandler(d.Log),
		BodyLimit:             bodyLimit,
		ReadTimeout:           d.ReadTimeout,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           2 * time.Minute,
		DisableStartupMessage: true,
		// Route on the raw path: /recursos/* validates its own decoding, and
		// must see %2e%2e rather than a path fasthttp already cleaned.
		UnescapePath: false,
		// fasthttp would parse a multipart body while reading it, before
		// routing and auth: a broken form became a 400 carrying Go's parser
		// text where a 401 was due. The upload handlers parse it themselves,
		// after the token check, and answer in their family's words.
		DisablePreParseMultipartForm: true,
		// Bodies are read by streamedBodies, uploads straight into staging
		// (uploadstream.go), not by fasthttp into memory before routing.
		StreamRequestBody: true,
	})
	app.Server().HeaderReceived = bodyGate
	m := NewMetrics(d.Registry)
	// recoverAll outermost, so a panic in the access log or the
	// ErrorHandler is caught too; the inner recover turns a handler's panic
	// into an error the ErrorHandler answers and the access log records.
	app.Use(recoverAll(d.Log))
	routes := &routeLabels{} // sealed below, once every route is registered
	app.Use(accessLog(d.Log, m, routes, d.RequestTimeout))
	app.Use(framing())
	// Headers only, before any body is read: the cross-site rule, then the
	// token of a request allowed a large body.
	app.Use(sameSiteCookieWrites(d.CrossOrigin))
	app.Use(verifyBeforeBody(d.Auth))
	app.Use(streamedBodies(newBodyBudget(d.BodyBudget, d.Registry)))
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		d.Log.Error("panic", zap.String("request_id", requestID(c)), zap.Any("panic", e), zap.Stack("stack"))
	}}))

	ops := &opsHandler{ready: d.Ready, log: d.Log}
	app.Get("/healthz", ops.healthz)
	app.Get("/readyz", ops.readyz)
	app.Get("/openapi.yaml", ops.openapi)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{})))

	page := &adminPage{auth: d.Auth}
	app.Get("/admin", page.page)
	app.Post("/admin/sesion", page.signIn)
	app.Post("/admin/salir", page.signOut)
	app.Get("/admin/app.js", assetHandler("app.js", "text/javascript; charset=utf-8"))
	app.Get("/admin/app.css", assetHandler("app.css", "text/css; charset=utf-8"))

	th := d.thumbnails()
	if d.RedirectTTL == 0 {
		d.RedirectTTL = 5 * time.Minute
	}
	links := redirector{presign: d.Redirect, ttl: d.RedirectTTL}
	static := &staticHandler{files: d.Files, thumbs: th, links: links}
	if st, ok := d.Files.(stamper); ok && !links.on() {
		static.stamps = st
	}
	app.Get("/recursos/*", static.serve)
	app.Head("/recursos/*", static.serve)

	uploads := newUploadSlots(uploadLimits{total: d.MaxUploads, perCaller: d.UploadsPerCaller, reserve: d.UploadsAdminReserve,
		grace: d.UploadGrace, minRate: int64(d.UploadMinRate), read: d.ReadTimeout})
	img := &imagenesHandler{store: d.Store, catalog: d.Catalog, files: d.Files, retention: d.JanitorConfig.Retention, uploads: uploads}
	admin := app.Group("/api/v1/admin", d.Auth.Required(), d.Auth.AdminOnly())
	admin.Post("/imagenes/subir", img.upload)
	admin.Get("/imagenes", img.list)
	admin.Delete("/imagenes/:id", img.delete)
	admin.Post("/imagenes/eliminar", img.deleteBulk)
	admin.Get("/papelera", img.listTrash)
	admin.Post("/papelera/:id/restaurar", img.restore)
	admin.Get("/papelera/:id/miniatura", (&trashThumbHandler{store: d.Store, thumbs: th}).serve)

	cons := &conserjeHandler{cfg: d.JanitorConfig, store: d.Store}
	if d.Janitor != nil {
		cons.janitor = d.Janitor
	}
	admin.Get("/conserje", cons.last)
	admin.Post("/conserje/simular", cons.simulate)

	prod := &productosHandler{store: d.Store, catalog: d.Catalog, vista: d.Balsamoa.Catalogo, balsamoa: d.Balsamoa.Variantes}
	admin.Get("/productos", prod.list)
	admin.Post("/productos", prod.create)
	admin.Get("/productos/:id", prod.get)
	admin.Put("/productos/:id", prod.update)
	admin.Delete("/productos/:id", prod.delete)
	admin.Patch("/productos/:id/activar", prod.activar)
	admin.Patch("/productos/:id/desactivar", prod.desactivar)
	app.Get("/api/v1/tienda/productos", prod.tiendaList)
	app.Get("/api/v1/tienda/productos/:id", prod.tiendaGet)

	// Per-route middleware, not Group("/api", mw): a Use on /api would run
	// the token check a second time on every /api/v1 route.
	cat := &catHandler{store: d.Store, catalog: d.Catalog, files: d.Files, links: links, uploads: uploads}
	anyUser := d.Auth.Required()
	app.Post("/api/image", anyUser, cat.upload)
	app.Get("/api/images", anyUser, cat.list)
	app.Get("/api/image/:id", anyUser, cat.get)
	app.Delete("/api/image/:id", anyUser, cat.delete)

	if d.Catalog != nil && hasRoute(app, fiber.MethodPost, "/api/v1/admin/imagenes/eliminar") {
		page.bulk = d.Catalog.BulkLimit()
	}
	routes.seal(app)
	return app
}
