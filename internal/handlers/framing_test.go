package handlers_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAmbiguousFramingRefused: fasthttp took any Transfer-Encoding as
// chunked (overriding Content-Length) and the last of two Content-Length
// headers, so behind a proxy that frames differently a second request could
// hide in the body. Each raw request here carries such a hidden request; the
// answer must be one 400 and a closed connection, never the hidden answer.
func TestAmbiguousFramingRefused(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.listen(), "http://")
	const hidden = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
	chunkedBody := "0\r\n\r\n" + hidden
	tests := []struct {
		name, head, body string
		want             int
		wantClose        bool
		cat              bool // to the Cat family's upload route
		bothShapes       bool // refused by fasthttp before routing: both families' keys
	}{
		{"xchunked", "Transfer-Encoding: xchunked\r\n", chunkedBody, 400, true, false, false},
		{"quoted chunked", "Transfer-Encoding: \"chunked\"\r\n", chunkedBody, 400, true, false, false},
		{"identity, chunked", "Transfer-Encoding: identity, chunked\r\n", chunkedBody, 400, true, false, false},
		{"two transfer-encodings", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunkedBody, 400, true, false, false},
		{"te and cl", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", chunkedBody, 400, true, false, false},
		{"two different cl", "Content-Length: 0\r\nContent-Length: " + itoa(len(hidden)) + "\r\n", hidden, 400, true, false, false},
		{"space before colon", "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n", chunkedBody, 400, true, false, true},
		{"cat family xchunked", "Transfer-Encoding: xchunked\r\n", chunkedBody, 400, true, true, false},
		// Controls: well-framed bodies are not refused for their framing.
		{"plain chunked", "Transfer-Encoding: chunked\r\n", "0\r\n\r\n", 405, false, false, false},
		{"one content-length", "Content-Length: 2\r\n", "{}", 405, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			path := "/api/v1/admin/productos"
			if tt.cat {
				path = "/api/image"
			}
			if tt.want == 405 {
				path = "/healthz"
			}
			if _, err := io.WriteString(conn, "POST "+path+" HTTP/1.1\r\nHost: t\r\n"+tt.head+"\r\n"+tt.body); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("read answer: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 400 != (tt.want == 400) {
				t.Fatalf("got %d %s, want %d", res.StatusCode, body, tt.want)
			}
			if !tt.wantClose {
				return
			}
			key := `"mensaje"`
			if path == "/api/image" {
				key = `"error"`
			}
			if tt.bothShapes {
				key = `"mensaje"` // and "error": both shapes
			}
			if !strings.Contains(string(body), key) || strings.Contains(string(body), "Transfer-Encoding") {
				t.Errorf("got body %s, want the family's %s shape", body, key)
			}
			// The hidden request must not be answered: the server closes.
			if next, err := http.ReadResponse(br, nil); err == nil {
				t.Errorf("the hidden request was answered: %d", next.StatusCode)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("connection left open after the 400")
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestParserRefusalsInShape: what fasthttp refuses before routing (headers
// too large, a header it cannot parse) was {"error"} with the parser's text
// and the raw request echoed; now both families' keys, in our words.
func TestParserRefusalsInShape(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.listen(), "http://")
	tests := []struct {
		name, head string
		want       int
	}{
		{"headers too large", "X-Big: " + strings.Repeat("a", 16<<10) + "\r\n", 431},
		{"unparsable header", "Bad Header : x\r\nAuthorization: Bearer secret-token\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, "GET /api/v1/admin/productos HTTP/1.1\r\nHost: t\r\n"+tt.head+"\r\n")
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read answer: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			b := string(body)
			if res.StatusCode != tt.want || !strings.Contains(b, `"mensaje"`) || strings.Contains(b, "secret-token") || strings.Contains(b, "aaaa") || strings.Contains(b, "Buffer") {
				t.Errorf("got %d %s, want %d with a mensaje in our words", res.StatusCode, b, tt.want)
			}
		})
	}
}
