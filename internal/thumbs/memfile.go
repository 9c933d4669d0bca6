package thumbs

import (
	"bytes"
	"io/fs"
	"time"
)

// memThumb is a thumbnail served from memory: generated, but its cache
// entry could not be written. Its time is its original's, so its ETag is
// the same on every request that generates it again.
func memThumb(data []byte, mod time.Time, ext string) Thumb {
	info := memInfo{size: int64(len(data)), mod: mod}
	return Thumb{File: memFile{bytes.NewReader(data), info}, Info: info, ContentType: contentType(ext)}
}

// memFile is a storage.File over bytes in memory.
type memFile struct {
	*bytes.Reader
	info memInfo
}

func (f memFile) Close() error               { return nil }
func (f memFile) Stat() (fs.FileInfo, error) { return f.info, nil }

type memInfo struct {
	size int64
	mod  time.Time
}

func (i memInfo) Name() string       { return "thumbnail" }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return i.mod }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
