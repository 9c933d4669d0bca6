package failover

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"
)

// client calls one serve as the admin and tallies every answer.
type client struct {
	s    *server
	http *http.Client

	mu       sync.Mutex
	statuses map[int]int
	bad      []string        // answers the service must never give: 5xx other than 503, none at all
	stored   map[string]bool // sha256 of every upload that got its 201
	last     time.Time       // when the last 503 came
}

func newClient(s *server) *client {
	// Longer than REQUEST_TIMEOUT: a request that waits for the database
	// ends with the server's 503, never with the client giving up.
	return &client{s: s, http: &http.Client{Timeout: time.Minute}, statuses: map[int]int{}, stored: map[string]bool{}}
}

// do sends one request and returns its status and body; status 0 is no
// answer. Each answer is tallied.
func (c *client) do(method, path, ctype string, body []byte) (int, []byte) {
	req, err := http.NewRequest(method, "http://"+c.s.addr+path, bytes.NewReader(body))
	if err != nil {
		c.mu.Lock()
		c.bad = append(c.bad, fmt.Sprintf("%s %s: %v", method, path, err))
		c.mu.Unlock()
		return 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+c.s.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := c.http.Do(req)
	var b []byte
	if err == nil {
		b, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.bad = append(c.bad, fmt.Sprintf("%s %s: no answer: %v", method, path, err))
		return 0, nil
	}
	c.statuses[res.StatusCode]++
	switch {
	case res.StatusCode == http.StatusServiceUnavailable:
		c.last = time.Now()
	case res.StatusCode >= 500:
		c.bad = append(c.bad, fmt.Sprintf("%s %s: %d %s", method, path, res.StatusCode, b))
	}
	return res.StatusCode, b
}

func (c *client) json(method, path, body string, out any) int {
	var ctype string
	if body != "" {
		ctype = "application/json"
	}
	st, b := c.do(method, path, ctype, []byte(body))
	if out != nil && st >= 200 && st < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.mu.Lock()
			c.bad = append(c.bad, fmt.Sprintf("%s %s: %d %q: %v", method, path, st, b, err))
			c.mu.Unlock()
			return 0
		}
	}
	return st
}

// upload stores a unique image; its url on a 201 ("" otherwise).
func (c *client) upload() string {
	content := make([]byte, 256)
	copy(content, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	_, _ = rand.Read(content[16:])
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("imagen", "failover.png")
	_, _ = fw.Write(content)
	w.Close()
	st, b := c.do("POST", "/api/v1/admin/imagenes/subir", w.FormDataContentType(), buf.Bytes())
	if st != http.StatusCreated {
		return ""
	}
	var m struct{ URL string }
	if err := json.Unmarshal(b, &m); err != nil || m.URL == "" {
		c.mu.Lock()
		c.bad = append(c.bad, fmt.Sprintf("upload: 201 %q", b))
		c.mu.Unlock()
		return ""
	}
	sum := sha256.Sum256(content)
	c.mu.Lock()
	c.stored[hex.EncodeToString(sum[:])] = true
	c.mu.Unlock()
	return m.URL
}

// imagen is an image of a product's answer.
type imagen struct {
	ID  int32  `json:"id"`
	URL string `json:"url"`
}

// product creates a product holding urls; its images (nil unless 201).
func (c *client) product(urls ...string) []imagen {
	var set []map[string]any
	for i, u := range urls {
		set = append(set, map[string]any{"url": u, "orden": i + 1})
	}
	body, _ := json.Marshal(map[string]any{"nombre": "failover", "precio": 1, "imagenes": set})
	var out struct {
		Producto struct {
			Imagenes []imagen `json:"imagenes"`
		} `json:"producto"`
	}
	if st := c.json("POST", "/api/v1/admin/productos", string(body), &out); st != http.StatusCreated {
		return nil
	}
	return out.Producto.Imagenes
}

// deleteImage sends an image to the trash; its entry's id (0 unless 200).
func (c *client) deleteImage(id int32) int64 {
	var out struct {
		PapeleraID int64 `json:"papelera_id"`
	}
	if st := c.json("DELETE", fmt.Sprintf("/api/v1/admin/imagenes/%d", id), "", &out); st != http.StatusOK {
		return 0
	}
	return out.PapeleraID
}

// restoreSome restores one of the newest trash entries, if any.
func (c *client) restoreSome(pick func(n int) int) {
	var page struct {
		Papelera []struct{ ID int64 } `json:"papelera"`
	}
	if st := c.json("GET", "/api/v1/admin/papelera?limite=5", "", &page); st != http.StatusOK || len(page.Papelera) == 0 {
		return
	}
	c.json("POST", fmt.Sprintf("/api/v1/admin/papelera/%d/restaurar", page.Papelera[pick(len(page.Papelera))].ID), "", nil)
}

// summary is the tally so far: "201 ×12, 503 ×4, …".
func (c *client) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, st := range []int{200, 201, 204, 400, 404, 409, 503} {
		if n := c.statuses[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d ×%d", st, n))
		}
	}
	for st, n := range c.statuses {
		if !strings.Contains(" 200 201 204 400 404 409 503 ", fmt.Sprintf(" %d ", st)) {
			parts = append(parts, fmt.Sprintf("%d ×%d", st, n))
		}
	}
	return strings.Join(parts, ", ")
}
