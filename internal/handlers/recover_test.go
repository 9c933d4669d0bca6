package handlers_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imagenes/imagenes/internal/auth"
	"github.com/imagenes/imagenes/internal/handlers"
)

// TestPanicsAreRecovered: the recover middleware sat inside the access log,
// so a panic in the access log or in the ErrorHandler killed the process.
// Each scenario panics in one place; the answer is a 500 in the family's
// shape and the panic is logged.
func TestPanicsAreRecovered(t *testing.T) {
	tests := []struct {
		name, path string
		panicOn    string // log message whose writing panics ("" = none)
		wantKey    string
	}{
		{name: "handler panics", path: "/api/v1/boom", wantKey: "mensaje"},
		{name: "handler panics, cat family", path: "/api/boom", wantKey: "error"},
		{name: "access log panics", path: "/healthz", panicOn: "request", wantKey: "error"},
		{name: "error handler panics", path: "/api/v1/fail", panicOn: "request failed", wantKey: "mensaje"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			log := zap.New(core, zap.Hooks(func(e zapcore.Entry) error {
				if tt.panicOn != "" && e.Message == tt.panicOn {
					panic("log hook: " + e.Message)
				}
				return nil
			}))
			a, err := auth.New(auth.Config{Secret: testSecret})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			app := handlers.NewApp(handlers.Deps{Auth: a, Log: log, Registry: prometheus.NewRegistry(), RequestTimeout: 10 * time.Second})
			app.Get("/api/v1/boom", func(*fiber.Ctx) error { panic("boom") })
			app.Get("/api/boom", func(*fiber.Ctx) error { panic("boom") })
			app.Get("/api/v1/fail", func(*fiber.Ctx) error { return errors.New("fail") })
			res, err := app.Test(httptest.NewRequest("GET", tt.path, nil), -1)
			if err != nil {
				t.Fatalf("GET %s: %v", tt.path, err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var m map[string]any
			if res.StatusCode != fiber.StatusInternalServerError || json.Unmarshal(body, &m) != nil || m[tt.wantKey] == nil {
				t.Fatalf("got %d %s, want 500 with %q", res.StatusCode, body, tt.wantKey)
			}
			if logs.FilterMessage("panic").Len() == 0 {
				t.Errorf("the panic was not logged")
			}
		})
	}
}
