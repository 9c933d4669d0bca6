package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// BenchmarkAccessLog: what the access log and the HTTP metrics add to one
// request, the handler doing nothing: at LOG_LEVEL=info (the line encoded as
// serve's logger does, JSON with the caller, written to io.Discard) and at
// warn (no line written, as make bench runs). Driven through the app's
// handler on a fasthttp RequestCtx, without a network.
//
//	go test -run '^$' -bench AccessLog -benchmem ./internal/handlers/
func BenchmarkAccessLog(b *testing.B) {
	for _, level := range []zapcore.Level{zapcore.InfoLevel, zapcore.WarnLevel} {
		b.Run(level.String(), func(b *testing.B) {
			enc := zap.NewProductionEncoderConfig()
			core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(io.Discard), level)
			log := zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel))
			app := fiber.New()
			routes := &routeLabels{}
			app.Use(accessLog(log, NewMetrics(prometheus.NewRegistry()), routes, time.Second))
			app.Delete("/api/v1/admin/imagenes/:id", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
			routes.seal(app)
			h := app.Handler()
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			for b.Loop() {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod(fiber.MethodDelete)
				ctx.Request.SetRequestURI("/api/v1/admin/imagenes/7")
				h(&ctx)
				if ctx.Response.StatusCode() != fiber.StatusNoContent {
					b.Fatalf("got %d", ctx.Response.StatusCode())
				}
			}
		})
	}
}

// BenchmarkDeleteAnswer: the admin delete's JSON answer as the fiber.Map it
// was and as deletedJSON, which must encode to the same bytes.
//
//	go test -run '^$' -bench DeleteAnswer -benchmem ./internal/handlers/
func BenchmarkDeleteAnswer(b *testing.B) {
	asMap := func(id int32, e int64) any {
		return fiber.Map{"mensaje": "Imagen eliminada correctamente", "id": id, "papelera_id": e}
	}
	asStruct := func(id int32, e int64) any {
		return deletedJSON{ID: id, Mensaje: "Imagen eliminada correctamente", PapeleraID: e}
	}
	m, _ := json.Marshal(asMap(7, 12345678901))
	s, _ := json.Marshal(asStruct(7, 12345678901))
	if !bytes.Equal(m, s) {
		b.Fatalf("struct %s, map %s: want the same bytes", s, m)
	}
	for _, bb := range []struct {
		name string
		v    func(int32, int64) any
	}{{"fiber.Map", asMap}, {"struct", asStruct}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := json.Marshal(bb.v(int32(i), int64(i))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
