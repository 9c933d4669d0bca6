package linearize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// call is one request as a client saw it: when it was sent and answered
// (nanoseconds since the run began), what it asked and what came back.
// Status 0 is no answer (a timeout, a connection cut by a kill).
type call struct {
	client    int
	call, ret int64
	kind      string
	status    int
	ids       []int32 // the images asked about (a PUT: the ones it names)
	entry     int64   // restore: the entry
	product   int32   // put, product reads
	// What the answer said.
	id       int32           // upload: the new image, its url
	url      string          //
	entries  map[int32]int64 // deletes: image → its entry
	missing  []int32         // bulk: no_encontradas
	restored *int32          // restore: the product the answer gives the image
	listed   []string        // product reads: the urls of its images
	trash    []seenEntry     // trash listings
	complete bool            // a trash listing of the whole trash at rest
}

type seenEntry struct {
	entry   int64
	image   int32
	product int32
}

// Kinds of call.
const (
	cUpload    = "upload"
	cDelete    = "delete"     // Balsamoa's DELETE /api/v1/admin/imagenes/:id
	cCatDelete = "cat-delete" // DELETE /api/image/:id
	cBulk      = "bulk"
	cRestore   = "restore"
	cPut       = "put"     // PUT /api/v1/admin/productos/:id with imagenes
	cFile      = "file"    // GET /recursos/…
	cCatGet    = "cat-get" // GET /api/image/:id
	cProduct   = "product" // GET /api/v1/admin/productos/:id
	cListed    = "listed"  // GET /api/v1/admin/imagenes?producto_id=
	cTrash     = "trash"   // GET /api/v1/admin/papelera, first page
)

// world is what the clients know: the images uploaded (201) and the trash
// entries named, which they pick their next calls from, and every call.
type world struct {
	mu       sync.Mutex
	images   []known
	urlOf    map[int32]string
	entries  []knownEntry
	seen     map[int64]bool
	products []int32
	calls    []call
}

type known struct {
	id  int32
	url string
}

type knownEntry struct {
	entry int64
	image int32
}

func (w *world) record(c call) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, c)
	if c.kind == cUpload && c.status == http.StatusCreated {
		w.images = append(w.images, known{c.id, c.url})
		w.urlOf[c.id] = c.url
	}
	for id, e := range c.entries {
		w.learn(e, id)
	}
	for _, s := range c.trash {
		if _, ok := w.urlOf[s.image]; ok {
			w.learn(s.entry, s.image)
		}
	}
}

func (w *world) learn(e int64, id int32) {
	if e != 0 && !w.seen[e] {
		w.seen[e] = true
		w.entries = append(w.entries, knownEntry{e, id})
	}
}

// recent is how many of the newest images and entries the clients pick
// from: few enough that calls on one image meet (a delete beside a restore,
// a read beside both), many enough that not every call is a 404.
const recent = 24

func (w *world) pickImages(r *rand.Rand, n int) []known {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.images) == 0 {
		return nil
	}
	pool := w.images[max(0, len(w.images)-recent):]
	var out []known
	for _, i := range r.Perm(len(pool))[:min(n, len(pool))] {
		out = append(out, pool[i])
	}
	return out
}

func (w *world) pickEntry(r *rand.Rand) (knownEntry, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.entries) == 0 {
		return knownEntry{}, false
	}
	pool := w.entries[max(0, len(w.entries)-recent):]
	return pool[r.IntN(len(pool))], true
}

// client is one of the concurrent clients.
type client struct {
	n     int
	base  string
	token string
	http  *http.Client
	rng   *rand.Rand
	w     *world
	clock func() int64
}

// weights of the calls a client makes.
var weights = []struct {
	kind string
	w    int
}{
	{cUpload, 14}, {cDelete, 8}, {cCatDelete, 5}, {cBulk, 4}, {cRestore, 10}, {cPut, 8},
	{cFile, 18}, {cCatGet, 6}, {cProduct, 4}, {cListed, 3}, {cTrash, 3},
}

// one makes one random call and records it.
func (c *client) one() {
	total := 0
	for _, x := range weights {
		total += x.w
	}
	pick := c.rng.IntN(total)
	kind := weights[0].kind
	for _, x := range weights {
		if pick < x.w {
			kind = x.kind
			break
		}
		pick -= x.w
	}
	switch kind {
	case cUpload:
		c.upload()
		return
	case cRestore:
		if e, ok := c.w.pickEntry(c.rng); ok {
			c.restore(e)
			return
		}
	case cPut:
		c.put()
		return
	case cProduct, cListed:
		c.productRead(kind, c.w.products[c.rng.IntN(len(c.w.products))])
		return
	case cTrash:
		var rec call
		c.trashPage("", 50, &rec)
		c.w.record(rec)
		return
	}
	n := 1
	if kind == cBulk {
		n = 1 + c.rng.IntN(5)
	}
	imgs := c.w.pickImages(c.rng, n)
	if len(imgs) == 0 {
		c.upload()
		return
	}
	switch kind {
	case cDelete:
		c.delete(imgs[0].id)
	case cCatDelete:
		c.catDelete(imgs[0].id)
	case cBulk:
		c.bulk(imgs)
	case cFile:
		c.file(imgs[0])
	case cCatGet:
		c.catGet(imgs[0].id)
	default: // a restore with no entry known yet
		c.file(imgs[0])
	}
}

// do sends a request and reads the whole answer; status 0 when none came.
func (c *client) do(req *http.Request, rec *call) []byte {
	req.Header.Set("Authorization", "Bearer "+c.token)
	rec.client = c.n
	rec.call = c.clock()
	res, err := c.http.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			rec.status = res.StatusCode
		}
	}
	rec.ret = c.clock()
	return body
}

func (c *client) req(method, path string, body io.Reader, ctype string) *http.Request {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		panic(err) // a bad path is the test's own bug
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req
}

var pngBytes = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range 16 {
		img.Set(i%4, i/4, color.RGBA{uint8(i * 16), 80, 160, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}()

func (c *client) upload() {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("imagen", "lin.png")
	fw.Write(pngBytes)
	mw.Close()
	rec := call{kind: cUpload}
	body := c.do(c.req(http.MethodPost, "/api/v1/admin/imagenes/subir", &b, mw.FormDataContentType()), &rec)
	if rec.status == http.StatusCreated {
		var a struct {
			ID  int32  `json:"id"`
			URL string `json:"url"`
		}
		if json.Unmarshal(body, &a) != nil || a.ID == 0 || a.URL == "" {
			rec.status = -1 // a 201 the client cannot read: recorded as no answer
		}
		rec.id, rec.url = a.ID, a.URL
	}
	c.w.record(rec)
}

func (c *client) delete(id int32) {
	rec := call{kind: cDelete, ids: []int32{id}}
	body := c.do(c.req(http.MethodDelete, "/api/v1/admin/imagenes/"+itoa(id), nil, ""), &rec)
	if rec.status == http.StatusOK {
		var a struct {
			ID         int32 `json:"id"`
			PapeleraID int64 `json:"papelera_id"`
		}
		if json.Unmarshal(body, &a) != nil || a.ID != id {
			rec.status = -1
		}
		rec.entries = map[int32]int64{id: a.PapeleraID}
	}
	c.w.record(rec)
}

func (c *client) catDelete(id int32) {
	rec := call{kind: cCatDelete, ids: []int32{id}}
	c.do(c.req(http.MethodDelete, "/api/image/"+itoa(id), nil, ""), &rec)
	c.w.record(rec)
}

func (c *client) bulk(imgs []known) {
	rec := call{kind: cBulk}
	for _, i := range imgs {
		rec.ids = append(rec.ids, i.id)
	}
	q, _ := json.Marshal(map[string]any{"ids": rec.ids})
	body := c.do(c.req(http.MethodPost, "/api/v1/admin/imagenes/eliminar", bytes.NewReader(q), "application/json"), &rec)
	if rec.status == http.StatusOK {
		var a struct {
			Eliminadas []struct {
				ID         int32 `json:"id"`
				PapeleraID int64 `json:"papelera_id"`
			} `json:"eliminadas"`
			NoEncontradas []int32 `json:"no_encontradas"`
		}
		if json.Unmarshal(body, &a) != nil || len(a.Eliminadas)+len(a.NoEncontradas) != len(rec.ids) {
			rec.status = -1
		}
		rec.entries = map[int32]int64{}
		for _, e := range a.Eliminadas {
			rec.entries[e.ID] = e.PapeleraID
		}
		rec.missing = a.NoEncontradas
	}
	c.w.record(rec)
}

func (c *client) restore(e knownEntry) {
	rec := call{kind: cRestore, ids: []int32{e.image}, entry: e.entry}
	body := c.do(c.req(http.MethodPost, "/api/v1/admin/papelera/"+strconv.FormatInt(e.entry, 10)+"/restaurar", nil, ""), &rec)
	if rec.status == http.StatusOK {
		var a struct {
			Imagen struct {
				ID         int32  `json:"id"`
				ProductoID *int32 `json:"producto_id"`
			} `json:"imagen"`
		}
		if json.Unmarshal(body, &a) != nil || a.Imagen.ID != e.image {
			rec.status = -1
		}
		p := int32(0)
		if a.Imagen.ProductoID != nil {
			p = *a.Imagen.ProductoID
		}
		rec.restored = &p
	}
	c.w.record(rec)
}

// put replaces a product's images with up to three of the recent ones
// (some trashed, some on another product: the answer is then 400 or 409).
func (c *client) put() {
	p := c.w.products[c.rng.IntN(len(c.w.products))]
	imgs := c.w.pickImages(c.rng, c.rng.IntN(4))
	rec := call{kind: cPut, product: p}
	set := []map[string]any{}
	for n, i := range imgs {
		rec.ids = append(rec.ids, i.id)
		set = append(set, map[string]any{"url": i.url, "orden": n + 1})
	}
	q, _ := json.Marshal(map[string]any{"imagenes": set})
	c.do(c.req(http.MethodPut, "/api/v1/admin/productos/"+itoa(p), bytes.NewReader(q), "application/json"), &rec)
	c.w.record(rec)
}

func (c *client) file(i known) {
	rec := call{kind: cFile, ids: []int32{i.id}}
	c.do(c.req(http.MethodGet, i.url, nil, ""), &rec)
	c.w.record(rec)
}

func (c *client) catGet(id int32) {
	rec := call{kind: cCatGet, ids: []int32{id}}
	c.do(c.req(http.MethodGet, "/api/image/"+itoa(id), nil, ""), &rec)
	c.w.record(rec)
}

// productRead reads product p's images: its catalogue row, or the image
// listing filtered by it.
func (c *client) productRead(kind string, p int32) {
	rec := call{kind: kind, product: p}
	path := "/api/v1/admin/productos/" + itoa(p)
	if kind == cListed {
		path = "/api/v1/admin/imagenes?limite=500&producto_id=" + itoa(p)
	}
	body := c.do(c.req(http.MethodGet, path, nil, ""), &rec)
	if rec.status == http.StatusOK {
		var a struct {
			Imagenes []struct {
				URL string `json:"url"`
			} `json:"imagenes"`
		}
		if json.Unmarshal(body, &a) != nil || len(a.Imagenes) >= 500 {
			rec.status = -1
		}
		for _, i := range a.Imagenes {
			rec.listed = append(rec.listed, i.URL)
		}
	}
	c.w.record(rec)
}

// trashPage reads one page of limit entries of the trash (newest first)
// after cursor into rec; it returns the next cursor ("" at the end). The
// clients read the newest 50, where the entries they may restore are (each
// entry shown is one more operation to check).
func (c *client) trashPage(cursor string, limit int, rec *call) (string, bool) {
	rec.kind = cTrash
	path := "/api/v1/admin/papelera?limite=" + strconv.Itoa(limit)
	if cursor != "" {
		path += "&antes_de=" + cursor
	}
	body := c.do(c.req(http.MethodGet, path, nil, ""), rec)
	var next string
	if rec.status == http.StatusOK {
		var a struct {
			Papelera []struct {
				ID         int64  `json:"id"`
				ImagenID   *int32 `json:"imagen_id"`
				ProductoID *int32 `json:"producto_id"`
			} `json:"papelera"`
			Siguiente *string `json:"siguiente"`
		}
		if json.Unmarshal(body, &a) != nil {
			rec.status = -1
		}
		for _, e := range a.Papelera {
			if e.ImagenID == nil {
				continue
			}
			s := seenEntry{entry: e.ID, image: *e.ImagenID}
			if e.ProductoID != nil {
				s.product = *e.ProductoID
			}
			rec.trash = append(rec.trash, s)
		}
		if a.Siguiente != nil {
			next = *a.Siguiente
		}
	}
	return next, rec.status == http.StatusOK
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// createProduct makes one of the products the clients replace the images of.
func (c *client) createProduct(name string) (int32, error) {
	rec := call{}
	q := fmt.Sprintf(`{"nombre": %q, "precio": 1}`, name)
	body := c.do(c.req(http.MethodPost, "/api/v1/admin/productos", strings.NewReader(q), "application/json"), &rec)
	var a struct {
		Producto struct {
			ID int32 `json:"id"`
		} `json:"producto"`
	}
	if rec.status != http.StatusCreated || json.Unmarshal(body, &a) != nil || a.Producto.ID == 0 {
		return 0, fmt.Errorf("create product: %d %s", rec.status, body)
	}
	return a.Producto.ID, nil
}

// newHTTP is a client's connection pool: a timeout well above serve's
// REQUEST_TIMEOUT, so that a slow answer is still an answer.
func newHTTP() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
}
