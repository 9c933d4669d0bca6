package s3test

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"regexp"
	"strconv"
)

// Take returns the requests the proxy forwarded since the last Take, each
// as "METHOD /bucket/key" ("POST /bucket?delete" for a multi-object
// delete), in the order they came: a test counts what a step costs.
func (p *Proxy) Take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.log
	p.log = nil
	return l
}

func (p *Proxy) record(r *http.Request) {
	req := r.Method + " " + r.URL.Path
	if r.URL.Query().Has("delete") {
		req += "?delete"
	}
	p.mu.Lock()
	p.log = append(p.log, req)
	p.mu.Unlock()
}

// FailDelete makes the next multi-object delete (S3 DeleteObjects) naming
// key answer that key failed (InternalError): the request still reaches the
// server, which deletes it, as a real store may do with a key it reports
// failed. The other keys' answers pass as they are.
func (p *Proxy) FailDelete(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failDelete = key
}

// deletedRE is one key of a DeleteObjects answer reported deleted.
var deletedRE = regexp.MustCompile(`<Deleted><Key>([^<]*)</Key>.*?</Deleted>`)

// takeFailDelete returns the key whose delete r's answer must report failed
// ("" for none); the rule is spent by the answer that names the key.
func (p *Proxy) takeFailDelete(r *http.Request) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Method != http.MethodPost || !r.URL.Query().Has("delete") {
		return ""
	}
	return p.failDelete
}

// failKeyInAnswer writes res with key's <Deleted> turned into an <Error>
// (res as it is when the answer does not name key).
func (p *Proxy) failKeyInAnswer(w http.ResponseWriter, res *http.Response, key string) {
	body, err := io.ReadAll(res.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	found := false
	body = deletedRE.ReplaceAllFunc(body, func(m []byte) []byte {
		k := html.UnescapeString(string(deletedRE.FindSubmatch(m)[1]))
		if k != key && !bytes.HasSuffix([]byte(k), []byte("/"+key)) {
			return m
		}
		found = true
		return []byte("<Error><Key>" + html.EscapeString(k) + "</Key><Code>InternalError</Code><Message>s3test: delete reported failed</Message></Error>")
	})
	if found {
		p.mu.Lock()
		p.failDelete = ""
		p.mu.Unlock()
	}
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(body)
}
