// Package api holds the OpenAPI description of imagenes, embedded so the
// binary serves exactly what its tests validated (GET /openapi.yaml).
package api

import _ "embed"

// OpenAPI is api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
