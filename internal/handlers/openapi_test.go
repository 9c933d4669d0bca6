package handlers_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/imagenes/imagenes/api"
)

var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// openAPI loads and validates api/openapi.yaml once per test binary.
func openAPI(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	spec.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if err != nil {
			spec.err = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			spec.err = err
			return
		}
		spec.doc = doc
		spec.router, spec.err = gorillamux.NewRouter(doc)
	})
	if spec.err != nil {
		t.Fatalf("api/openapi.yaml: %v", spec.err)
	}
	return spec.doc, spec.router
}

// checkSpec validates a response of the HTTP tests against the description:
// its status must be documented for the route, and a JSON body must match
// the documented schema. Requests the description has no route for (unknown
// paths, on purpose) and bodies that are files are left out.
func checkSpec(t testing.TB, method, target string, r resp) {
	t.Helper()
	if strings.HasPrefix(target, "/recursos/") || target == "/metrics" {
		return
	}
	_, router := openAPI(t)
	req, err := http.NewRequest(method, "http://example.test"+target, nil)
	if err != nil {
		return // the test sent a target net/http cannot even parse
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return
	}
	ct := r.header.Get("Content-Type")
	if len(r.body) > 0 && !strings.HasPrefix(ct, "application/json") {
		if _, ok := route.Operation.Responses.Value(strconv.Itoa(r.status)).Value.Content[strings.Split(ct, ";")[0]]; ok || r.status == 200 {
			return // a file (image bytes, YAML): its media type is documented
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  r.status,
		Header:  r.header,
		Body:    io.NopCloser(bytes.NewReader(r.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d %s does not match api/openapi.yaml: %v", method, target, r.status, r.body, err)
	}
}

var fiberParam = regexp.MustCompile(`:([a-z_]+)`)

// Every route the app serves is described, and everything described is
// served: walk the router both ways.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	doc, _ := openAPI(t)
	e := newEnv(t)
	served := map[string]bool{}
	for _, r := range e.app.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" {
			continue // every GET answers HEAD too; USE is middleware
		}
		p := fiberParam.ReplaceAllString(r.Path, "{$1}")
		p = strings.Replace(p, "*", "{archivo}", 1)
		key := r.Method + " " + p
		if served[key] {
			continue
		}
		served[key] = true
		item := doc.Paths.Find(p)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s is not in api/openapi.yaml", key)
		}
	}
	var described []string
	for p, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			described = append(described, m+" "+p)
		}
	}
	sort.Strings(described)
	for _, d := range described {
		if !served[d] {
			t.Errorf("api/openapi.yaml describes %s, which the app does not serve", d)
		}
	}
	if len(served) < 20 {
		t.Errorf("walked only %d routes; the walk is broken", len(served))
	}
	got := e.do(t, req{method: "GET", path: "/openapi.yaml"})
	if got.status != 200 || !bytes.Equal(got.body, api.OpenAPI) {
		t.Errorf("GET /openapi.yaml: got %d with %d bytes, want 200 with the embedded description", got.status, len(got.body))
	}
}
