package handlers

import (
	"github.com/imagenes/imagenes/api"

	"context"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
)

type opsHandler struct {
	ready func(ctx context.Context) error
	log   *zap.Logger
}

// healthz: the process is alive; it checks nothing else on purpose, so an
// orchestrator does not restart a healthy process while PostgreSQL is down.
func (h *opsHandler) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz: the database answers and the storage folder is writable.
func (h *opsHandler) readyz(c *fiber.Ctx) error {
	if err := h.ready(c.UserContext()); err != nil {
		h.log.Warn("not ready", zap.String("request_id", requestID(c)), zap.Error(err))
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "error": "database or storage not usable"})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

// openapi: GET /openapi.yaml — the API description the tests validate
// every response against.
func (h *opsHandler) openapi(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/yaml")
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(api.OpenAPI)
}
