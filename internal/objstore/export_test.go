package objstore

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Requests is the log of the S3 requests a Store sent through its real
// transport to the real server, each as "METHOD key" (a server-side copy as
// "COPY key", the key it writes), in the order sent.
type Requests struct {
	bucket string
	// awsHeads drops MinIO's own x-minio-error-* headers from the answers,
	// so a HEAD's 404 says no more than AWS S3's does (no body, no code).
	awsHeads bool
	next     http.RoundTripper
	mu       sync.Mutex
	log      []string
}

// NewRecorded is New whose requests are logged in the returned Requests.
func NewRecorded(o Options, awsHeads bool) (*Store, *Requests, error) {
	r := &Requests{bucket: o.Bucket, awsHeads: awsHeads}
	s, err := newStore(o, func(next http.RoundTripper) http.RoundTripper { r.next = next; return r })
	return s, r, err
}

// RoundTrip logs req and sends it on.
func (r *Requests) RoundTrip(req *http.Request) (*http.Response, error) {
	method := req.Method
	if method == http.MethodPut && req.Header.Get("X-Amz-Copy-Source") != "" {
		method = "COPY"
	}
	key, _ := url.PathUnescape(strings.TrimPrefix(strings.TrimPrefix(req.URL.EscapedPath(), "/"+r.bucket), "/"))
	r.mu.Lock()
	if key == "" {
		key = "(bucket)"
	}
	r.log = append(r.log, method+" "+key)
	r.mu.Unlock()
	resp, err := r.next.RoundTrip(req)
	if err == nil && r.awsHeads {
		resp.Header.Del("X-Minio-Error-Code")
		resp.Header.Del("X-Minio-Error-Desc")
	}
	return resp, err
}

// Take returns the requests logged since the last Take.
func (r *Requests) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.log
	r.log = nil
	return l
}
