package handlers

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagenes/imagenes/internal/storage"
)

// Bounds of the static route's memory cache: a shop's images are tens of
// KB, so whole bodies in memory answer with one write and no open, read or
// close; larger files stream from the disk as before.
const (
	staticCacheMaxFile  = 1 << 20
	staticCacheMaxBytes = 64 << 20
)

// stamper is the folder's cheap lookup of a live file's identity
// (storage.(*Storage).LiveStamp); a bucket has none and is not cached.
type stamper interface {
	LiveStamp(ctx context.Context, url string) (storage.Stamp, error)
}

// staticEntry is a live file held in memory with its answer's headers.
// It is served only while the file's Stamp, looked up afresh on every
// request, is the one it was read under: a delete (a rename to the trash),
// a restore, a replacement, a symlink put in its place or any write change
// the Stamp, so the cache never answers for a file that is not there now,
// whoever moved it (this process, the standalone janitor, an operator).
type staticEntry struct {
	stamp   storage.Stamp
	body    []byte
	modTime time.Time
	etag    string
	lastMod string
	ctype   string
}

// staticCache maps urls to entries. Full, it is emptied and refills with
// what is asked next: entries of deleted files cannot pile up, and no
// bookkeeping runs on the hot path.
type staticCache struct {
	m     sync.Map // url → *staticEntry
	bytes atomic.Int64
}

func (c *staticCache) get(u string) *staticEntry {
	if v, ok := c.m.Load(u); ok {
		return v.(*staticEntry)
	}
	return nil
}

func (c *staticCache) drop(u string) {
	if v, ok := c.m.LoadAndDelete(u); ok {
		c.bytes.Add(-int64(len(v.(*staticEntry).body)))
	}
}

func (c *staticCache) put(u string, e *staticEntry) {
	if c.bytes.Add(int64(len(e.body))) > staticCacheMaxBytes {
		c.m.Clear()
		c.bytes.Store(int64(len(e.body)))
	}
	if old, loaded := c.m.Swap(u, e); loaded {
		c.bytes.Add(-int64(len(old.(*staticEntry).body)))
	}
}

// loadEntry reads an opened live file whole into an entry; nil when it is
// not one to cache (too large, not a local file), an error when the read
// fails or comes short of its stat's size.
func loadEntry(u string, f storage.File, info fs.FileInfo) (*staticEntry, error) {
	if info.Size() > staticCacheMaxFile {
		return nil, nil
	}
	st, ok := storage.StampOf(info)
	if !ok {
		return nil, nil
	}
	body := make([]byte, info.Size())
	if _, err := io.ReadFull(f, body); err != nil {
		return nil, fmt.Errorf("read %s: %w", u, err)
	}
	return &staticEntry{stamp: st, body: body, modTime: info.ModTime(),
		etag:    etagOf(info.Size(), info.ModTime()),
		lastMod: info.ModTime().UTC().Format(http.TimeFormat),
		ctype:   contentTypeOf(u)}, nil
}

func etagOf(size int64, mod time.Time) string {
	return `"` + strconv.FormatInt(size, 36) + "-" + strconv.FormatInt(mod.UnixNano(), 36) + `"`
}
