package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
)

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// pageLimit reads a page size from query key; empty means the default.
func pageLimit(c *fiber.Ctx, key string) (int, error) {
	s := c.Query(key)
	if s == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, errBadQuery
	}
	return n, nil
}

// optionalID reads an id from query key; empty means none (0).
func optionalID(c *fiber.Ctx, key string) (int32, error) {
	s := c.Query(key)
	if s == "" {
		return 0, nil
	}
	id, err := parseID(s)
	if err != nil {
		return 0, errBadQuery
	}
	return id, nil
}

// queryBool reads an optional "true"/"false" query parameter.
func queryBool(c *fiber.Ctx, key string) (bool, error) {
	switch c.Query(key) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errBadQuery
}
