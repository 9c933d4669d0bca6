// Package objstore keeps image files in an S3-compatible bucket (AWS S3,
// MinIO, R2, B2…), with the same keys as the folder layout of package
// storage: a row's url /recursos/x/y.webp is the key [PREFIX/]recursos/x/y.webp,
// trash objects are [PREFIX/].papelera/<name>, the marker is
// [PREFIX/].imagenes-storage (SPEC §9). Urls and trash names are validated
// by storage's own rules before any key is built.
//
// An object store has no rename: a move is a server-side copy to the new key
// then a delete of the old one. A crash between the two leaves both, which
// the janitor settles by the row, its lock and the entry. A PUT is atomic
// (an object appears whole or not at all), so uploads need no staging in the
// bucket: the bytes are spooled to a local temporary file while their type,
// size and hash are judged, then PUT under the url's advisory lock.
//
// Every request ends at the earlier of its caller's deadline (the context
// each method takes) and the store's own time limit (Options.Timeout), its
// answer's body included; an object being downloaded has the limit per read
// instead (see File): an unreachable or stuck server is an error wrapping
// storage.ErrUnavailable, never a hang. No HTTP routes, no SQL.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/imagenes/imagenes/internal/storage"
)

// Options says where the bucket is and how to reach it.
type Options struct {
	Bucket    string
	Prefix    string // key prefix without slashes at either end; "" for none
	Endpoint  string // "https://host[:port]" or "http://…"; "" for AWS S3
	Region    string // default us-east-1
	PathStyle bool   // bucket in the path (MinIO) instead of the host name
	// Credentials; all empty means anonymous (a public bucket).
	AccessKey, SecretKey, SessionToken string
	// Timeout bounds every request (connect, send, the whole answer), and
	// each read of an object's body (File).
	Timeout time.Duration
	// PageSize is the keys per listing request (DefaultPageSize when 0).
	PageSize int
}

// DefaultTimeout is Options.Timeout when unset.
const DefaultTimeout = 5 * time.Second

// ParseURL reads s3://BUCKET[/PREFIX]?endpoint=&region=&path_style= (SPEC
// §9) into Options; credentials are added by the caller from the
// environment. Errors name the part that is wrong.
func ParseURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Options{}, fmt.Errorf("not a url: %w", err)
	}
	if u.Scheme != "s3" {
		return Options{}, fmt.Errorf("scheme %q is not s3", u.Scheme)
	}
	if u.User != nil {
		return Options{}, errors.New("credentials do not belong in the url: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	o := Options{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Region: "us-east-1"}
	if o.Bucket == "" {
		return Options{}, errors.New("no bucket (s3://BUCKET[/PREFIX])")
	}
	for _, seg := range strings.Split(o.Prefix, "/") {
		if o.Prefix != "" && (seg == "" || seg[0] == '.') {
			return Options{}, fmt.Errorf("prefix %q has an empty or hidden segment", o.Prefix)
		}
	}
	q := u.Query()
	for k, vs := range q {
		switch k {
		case "endpoint", "region", "path_style":
		default:
			return Options{}, fmt.Errorf("unknown parameter %q (endpoint, region, path_style)", k)
		}
		if len(vs) > 1 {
			return Options{}, fmt.Errorf("parameter %q given %d times", k, len(vs))
		}
	}
	if e := q.Get("endpoint"); e != "" {
		eu, err := url.Parse(e)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" || (eu.Path != "" && eu.Path != "/") {
			return Options{}, fmt.Errorf("endpoint %q is not http(s)://host[:port]", e)
		}
		o.Endpoint = eu.Scheme + "://" + eu.Host
	}
	if r := q.Get("region"); r != "" {
		o.Region = r
	}
	if ps := q.Get("path_style"); ps != "" {
		b, err := strconv.ParseBool(ps)
		if err != nil {
			return Options{}, fmt.Errorf("path_style %q is not true or false", ps)
		}
		o.PathStyle = b
	}
	return o, nil
}

// Store is a bucket (and prefix) holding one storage. Safe for concurrent use.
type Store struct {
	c        *minio.Client
	bucket   string
	prefix   string // "" or "p/" (with the trailing slash)
	timeout  time.Duration
	pageSize int
	spool    string // local folder of uploads being judged
	// spoolLock holds spool's flock while the process lives (openSpool).
	spoolLock *os.File
	closeOnce sync.Once
	closeErr  error
	swept     []string // the spools of dead processes removed at start
	name      string   // s3://bucket/prefix, for logs
}

// Open connects to the bucket and checks that it exists and that the
// credentials are accepted: a bucket that is missing, unreachable or
// refuses them is an error here, at start-up, rather than on the first
// upload. It does not create the bucket.
func Open(ctx context.Context, o Options) (*Store, error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	if err := s.Usable(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// New is Open without the check (tests that create the bucket use it).
func New(o Options) (*Store, error) { return newStore(o, nil) }

// newStore is New whose transport wrap wraps, when not nil (a test counts
// the requests that reach the server).
func newStore(o Options, wrap func(http.RoundTripper) http.RoundTripper) (*Store, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	host, secure := "s3.amazonaws.com", true
	if o.Endpoint != "" {
		eu, err := url.Parse(o.Endpoint)
		if err != nil || eu.Host == "" {
			return nil, fmt.Errorf("endpoint %q is not a url", o.Endpoint)
		}
		host, secure = eu.Host, eu.Scheme == "https"
	}
	lookup := minio.BucketLookupDNS
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	var creds *credentials.Credentials
	if o.AccessKey != "" || o.SecretKey != "" {
		creds = credentials.NewStaticV4(o.AccessKey, o.SecretKey, o.SessionToken)
	} else {
		creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	}
	var rt http.RoundTripper = transport(o.Timeout)
	if wrap != nil {
		rt = wrap(rt)
	}
	c, err := minio.New(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       o.Region,
		BucketLookup: lookup,
		Transport:    rt,
		// Retries multiply the time limit; the protocol's callers and the
		// janitor's next pass are the retry.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	// The spools of processes that died go first: nothing else would ever
	// remove them (Close does a process's own, when it gets to).
	swept := sweepSpools(os.TempDir(), time.Now())
	spool, spoolLock, err := openSpool(os.TempDir())
	if err != nil {
		return nil, fmt.Errorf("upload spool folder: %w", err)
	}
	prefix := ""
	if o.Prefix != "" {
		prefix = o.Prefix + "/"
	}
	return &Store{c: c, bucket: o.Bucket, prefix: prefix, timeout: o.Timeout, pageSize: o.PageSize, spool: spool,
		spoolLock: spoolLock, swept: swept, name: "s3://" + o.Bucket + "/" + prefix}, nil
}

// transport bounds each request: connecting, the TLS handshake and the wait
// for the answer's headers. The rest is the callers': a context with the
// time limit for whole requests, a per-read timer for an object's body,
// which streams at the client's pace (an image served to a slow phone).
func transport(timeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = timeout
	t.ResponseHeaderTimeout = timeout
	t.MaxIdleConnsPerHost = 64
	t.Proxy = nil // a storage server is reached directly
	return t
}

// Close removes the local spool and lets its lock go. Closing twice is
// safe: the second call returns what the first did.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(os.RemoveAll(s.spool), s.spoolLock.Close())
	})
	return s.closeErr
}

// SweptSpools names the spool folders of dead processes removed when s was
// made (the app logs them).
func (s *Store) SweptSpools() []string { return s.swept }

// Root names the storage for logs: s3://bucket/prefix/.
func (s *Store) Root() string { return s.name }

// Spool is the local folder of uploads being judged (tests check it is
// left empty).
func (s *Store) Spool() string { return s.spool }

// Client and Bucket give tests and tools the bucket itself.
func (s *Store) Client() *minio.Client { return s.c }

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// ctx is the context of one request: the caller's, bounded by the store's
// own time limit, so a request ends at whichever comes first — the
// request's REQUEST_TIMEOUT, the janitor pass's end, or Options.Timeout.
func (s *Store) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.timeout)
}

// Usable checks that the bucket exists and accepts the credentials, for
// start-up and /readyz.
func (s *Store) Usable(ctx context.Context) error {
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	ok, err := s.c.BucketExists(rctx, s.bucket)
	if err != nil {
		return s.fail("check bucket", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("bucket %q does not exist: %w", s.bucket, storage.ErrUnavailable)
	}
	return nil
}

// Keys.
const (
	trashDir = ".papelera/"
	liveDir  = "recursos/"
)

// liveKey validates url (storage.RelPath's rules) and returns its key.
func (s *Store) liveKey(u string) (string, error) {
	rel, err := storage.RelPath(u)
	if err != nil {
		return "", err
	}
	return s.prefix + rel, nil
}

// trashKey validates a trash name and returns its key.
func (s *Store) trashKey(name string) (string, error) {
	if err := storage.CheckTrashName(name); err != nil {
		return "", err
	}
	return s.prefix + trashDir + name, nil
}

// fail turns a client error into this package's vocabulary: a missing key
// is storage.ErrNotExist; a missing bucket, refused credentials, a time-out
// or a server error is storage.ErrUnavailable (503 for a request, a stopped
// pass for the janitor).
func (s *Store) fail(op, key string, err error) error {
	r := minio.ToErrorResponse(err)
	switch {
	case r.Code == "NoSuchKey" || (r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket"):
		return fmt.Errorf("%s %q: %w", op, key, storage.ErrNotExist)
	case r.Code == "PreconditionFailed" || r.StatusCode == http.StatusPreconditionFailed:
		return fmt.Errorf("%s %q: %w", op, key, errPrecondition)
	}
	return fmt.Errorf("%s %q: %w: %w", op, key, storage.ErrUnavailable, err)
}

// errPrecondition: a conditional request (an upload's If-None-Match) was
// refused because the object appeared meanwhile.
var errPrecondition = errors.New("precondition failed")

var _ storage.Backend = (*Store)(nil)
