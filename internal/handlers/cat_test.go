package handlers_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestCatUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	over := append(append([]byte{}, pngBytes...), bytes.Repeat([]byte{0}, 10<<20)...)
	huge := append(append([]byte{}, pngBytes...), bytes.Repeat([]byte{0}, 12<<20)...)
	tests := []struct {
		name       string
		field      string
		content    []byte
		token      string
		wantStatus int
		wantError  string
	}{
		{"png", "file", pngBytes, e.alice, 201, ""},
		{"jpeg", "file", jpegBytes, e.alice, 201, ""},
		{"gif is not accepted", "file", gifBytes, e.alice, 415, ""},
		{"text", "file", textBytes, e.alice, 415, ""},
		{"over 10 MiB", "file", over, e.alice, 413, "File too large (max 10MB)."},
		{"over the body limit", "file", huge, e.alice, 413, "File too large (max 10MB)."},
		{"missing", "imagen", pngBytes, e.alice, 400, "Missing file to upload."},
		{"no token", "file", pngBytes, "", 401, "Unauthorized"},
		{"garbage token", "file", pngBytes, "abc.def.ghi", 401, "Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.on(t)
			body, ct := multipartBody(t, tt.field, "cat.png", tt.content)
			var got resp
			if len(tt.content) > 11<<20 { // fasthttp refuses it before any handler: needs a real socket
				got = postOversized(t, e.listen(), "/api/image", tt.token, ct, 1<<30, body)
			} else {
				got = e.do(t, req{method: "POST", path: "/api/image", token: tt.token, body: body, contentType: ct})
			}
			if got.status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.wantStatus)
			}
			m := got.json(t)
			if tt.wantStatus == 201 {
				id, ok := m["id"].(float64)
				if !ok || m["filename"] == "" || got.header.Get("Location") != fmt.Sprintf("/api/image/%d", int(id)) {
					t.Errorf("got %s Location %q, want id, filename and Location /api/image/<id>", got.body, got.header.Get("Location"))
				}
			} else {
				if _, ok := m["error"].(string); !ok {
					t.Errorf("got %s, want {\"error\"}", got.body)
				}
				if tt.wantError != "" && m["error"] != tt.wantError {
					t.Errorf("got error %q, want %q", m["error"], tt.wantError)
				}
			}
			if left := e.stagingFiles(); len(left) != 0 {
				t.Errorf("got %v in staging, want nothing left behind", left)
			}
		})
	}
}

func TestCatOwnership(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aliceImg := e.uploadCat(e.alice, pngBytes)
	bobImg := e.uploadCat(e.bob, jpegBytes)
	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		wantStatus int
		wantBody   string // substring
	}{
		{"alice lists only hers", "GET", "/api/images", e.alice, 200, fmt.Sprintf(`"id":%d`, aliceImg)},
		{"alice reads hers", "GET", fmt.Sprintf("/api/image/%d", aliceImg), e.alice, 200, "\x89PNG"},
		{"alice cannot see bob's", "GET", fmt.Sprintf("/api/image/%d", bobImg), e.alice, 404, `"error"`},
		{"alice cannot delete bob's", "DELETE", fmt.Sprintf("/api/image/%d", bobImg), e.alice, 404, `"error"`},
		{"admin reads bob's", "GET", fmt.Sprintf("/api/image/%d", bobImg), e.admin, 200, "JFIF"},
		{"bad id", "GET", "/api/image/abc", e.alice, 400, `{"error":"Invalid id."}`},
		{"bad delete id", "DELETE", "/api/image/1.5", e.alice, 400, `{"error":"Invalid id."}`},
		{"huge delete id", "DELETE", "/api/image/99999999999999999999", e.alice, 400, `{"error":"Invalid id."}`},
		{"unknown", "DELETE", "/api/image/424242", e.alice, 404, `"error"`},
		{"no token", "DELETE", fmt.Sprintf("/api/image/%d", aliceImg), "", 401, `{"error":"Unauthorized"}`},
		{"alice deletes hers", "DELETE", fmt.Sprintf("/api/image/%d", aliceImg), e.alice, 204, ""},
		{"gone after delete", "GET", fmt.Sprintf("/api/image/%d", aliceImg), e.alice, 404, `"error"`},
		{"admin deletes bob's", "DELETE", fmt.Sprintf("/api/image/%d", bobImg), e.admin, 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.do(t, req{method: tt.method, path: tt.path, token: tt.token})
			if got.status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tt.wantStatus)
			}
			if tt.wantStatus == 204 && len(got.body) != 0 {
				t.Errorf("got body %q, want an empty 204", got.body)
			}
			if !strings.Contains(string(got.body), tt.wantBody) {
				t.Errorf("got body %q, want it to contain %q", got.body, tt.wantBody)
			}
		})
	}
	t.Run("list excludes others", func(t *testing.T) {
		e2 := e.do(t, req{method: "GET", path: "/api/images", token: e.bob})
		if strings.Contains(string(e2.body), fmt.Sprintf(`"id":%d`, aliceImg)) {
			t.Errorf("got %s, want none of alice's images in bob's list", e2.body)
		}
	})
}

func TestCatGetContentType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.uploadCat(e.alice, jpegBytes)
	got := e.do(t, req{method: "GET", path: fmt.Sprintf("/api/image/%d", id), token: e.alice})
	if got.status != 200 || got.header.Get("Content-Type") != "image/jpeg" || !bytes.Equal(got.body, jpegBytes) {
		t.Errorf("got %d %q (%d bytes), want 200 image/jpeg with the uploaded bytes", got.status, got.header.Get("Content-Type"), len(got.body))
	}
}
