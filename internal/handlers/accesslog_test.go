package handlers_test

import (
	"fmt"
	"testing"
)

// TestAccessLog: every request, whatever its family and outcome, writes
// exactly one "request" line carrying the id its response's X-Request-ID
// names (the client's own when well-formed, a fresh one otherwise, never
// two requests with one fresh id), its method, route pattern, status and,
// when its token passed, its caller.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	found, _ := e.upload(pngBytes)
	cat := e.uploadCat(e.alice, pngBytes)
	tests := []struct {
		name     string
		r        req
		status   int
		route    string
		sub      string // "" = no sub field
		clientID string // the id the response must echo ("" = a fresh one)
	}{
		{"admin delete", req{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/imagenes/%d", found), token: e.admin}, 200, "/api/v1/admin/imagenes/:id", "admin-1", ""},
		{"admin delete, missing", req{method: "DELETE", path: "/api/v1/admin/imagenes/999999", token: e.admin}, 404, "/api/v1/admin/imagenes/:id", "admin-1", ""},
		{"cat delete", req{method: "DELETE", path: fmt.Sprintf("/api/image/%d", cat), token: e.alice}, 204, "/api/image/:id", "alice", ""},
		{"no token", req{method: "DELETE", path: "/api/image/1"}, 401, "/api/image/:id", "", ""},
		{"bad id", req{method: "DELETE", path: "/api/image/x", token: e.alice}, 400, "/api/image/:id", "alice", ""},
		{"the client's id is kept", req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-ID": "nginx-abc123"}}, 200, "/healthz", "", "nginx-abc123"},
		{"a control byte in the client's id: a fresh one", req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-ID": "a b"}}, 200, "/healthz", "", ""},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.logs.FilterMessage("request").Len()
			got := e.do(t, tt.r)
			if got.status != tt.status {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.status)
			}
			id := got.header.Get("X-Request-ID")
			switch {
			case tt.clientID != "" && id != tt.clientID:
				t.Errorf("X-Request-ID %q, want the client's %q", id, tt.clientID)
			case tt.clientID == "" && (id == "" || seen[id]):
				t.Errorf("X-Request-ID %q: want a fresh id, not empty nor seen before", id)
			}
			seen[id] = true
			lines := e.logs.FilterMessage("request").All()[before:]
			if len(lines) != 1 {
				t.Fatalf("%d request lines, want 1: %v", len(lines), lines)
			}
			f := lines[0].ContextMap()
			want := map[string]any{"request_id": id, "method": tt.r.method, "route": tt.route, "status": int64(tt.status)}
			for k, v := range want {
				if f[k] != v {
					t.Errorf("%s = %v, want %v", k, f[k], v)
				}
			}
			if s, has := f["sub"]; tt.sub == "" && has || tt.sub != "" && s != tt.sub {
				t.Errorf("sub = %v (present %v), want %q", s, has, tt.sub)
			}
			if _, ok := f["duration_ms"]; !ok {
				t.Error("no duration_ms")
			}
		})
	}
}
