package storage

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// LivePrefix starts every local url; any other url is an external
// reference, stored and returned but never touched on disk.
const LivePrefix = "/recursos/"

// ProductPrefix starts the urls of product images (SPEC §1). It is the
// only folder the janitor looks into for orphans: a shop keeps its site
// (CSS, JavaScript, fonts, logos) under /recursos/ too, next to it.
const ProductPrefix = LivePrefix + "imagenes/productos/"

// productExts are the extensions of product images: what uploads write
// (jpeg, png, webp, gif) and what shops name them by hand.
var productExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".webp": true, ".gif": true}

// IsProductImage reports whether url names a product image: under
// ProductPrefix, with an image extension (any case). Only such files are
// ever the janitor's orphan candidates; an SVG, a stylesheet or an HTML page
// in that folder is not.
func IsProductImage(url string) bool {
	return strings.HasPrefix(url, ProductPrefix) && hasProductExt(url)
}

// hasProductExt reports whether name ends in a product image's extension,
// in any case, without building the lower-case copy (the walk asks it for
// every file).
func hasProductExt(name string) bool {
	ext := path.Ext(name)
	if len(ext) > len(".jpeg") {
		return false
	}
	var b [len(".jpeg")]byte
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return productExts[string(b[:len(ext)])]
}

// maxURL is the width of producto_imagenes.url.
const maxURL = 255

// IsLocal reports whether url names a file in the storage folder.
func IsLocal(url string) bool { return strings.HasPrefix(url, LivePrefix) }

// RelPath validates a local url and returns its path relative to the root.
// It refuses, with ErrUnsafePath: urls not under /recursos/, empty segments,
// segments starting with '.' (so "..", "." and hidden files such as the
// trash), backslashes, NUL and other control characters, and urls longer
// than the column. Percent signs are kept literally: a stored url is a file
// name, not an encoded path, so "%2e%2e" is a harmless folder name; the
// static route decodes its request path once before calling RelPath.
func RelPath(url string) (string, error) {
	if !IsLocal(url) || len(url) > maxURL || len(url) == len(LivePrefix) {
		return "", fmt.Errorf("%w: %q", ErrUnsafePath, url)
	}
	rel := url[1:]
	for _, seg := range strings.Split(rel, "/") {
		if !segmentOK(seg) {
			return "", fmt.Errorf("%w: %q", ErrUnsafePath, url)
		}
	}
	return rel, nil
}

// segmentOK reports whether one segment of a url is one RelPath accepts: not
// empty, not starting with '.', no backslash, NUL or other control
// character.
func segmentOK(seg string) bool {
	if seg == "" || seg[0] == '.' {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// NewImageURL returns a fresh url for an upload of extension ext. Uploads
// fan out into 256 folders by the first two hex digits of their uuid, so no
// folder grows to millions of entries.
func NewImageURL(ext string) string {
	id := uuid.NewString()
	return LivePrefix + "imagenes/productos/" + id[:2] + "/" + id + "." + ext
}

// TrashName is the trash file name of entry id deleted at t for url. It
// carries the entry id (so the janitor can match files to entries and tell
// an aborted delete from a committed one) and the deletion time (a rename
// keeps the file's old mtime, so the time must be in the name).
func TrashName(id int64, t time.Time, url string) string {
	return strconv.FormatInt(id, 10) + "-" + strconv.FormatInt(t.Unix(), 10) + "-" + path.Base(url)
}

// ParseTrashName is the inverse of TrashName; ok is false for other names.
func ParseTrashName(name string) (id int64, t time.Time, base string, ok bool) {
	a, rest, found := strings.Cut(name, "-")
	if !found {
		return 0, time.Time{}, "", false
	}
	b, base, found := strings.Cut(rest, "-")
	if !found || base == "" {
		return 0, time.Time{}, "", false
	}
	id, err1 := strconv.ParseInt(a, 10, 64)
	sec, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || id < 1 {
		return 0, time.Time{}, "", false
	}
	return id, time.Unix(sec, 0), base, true
}

// trashPath validates a trash file name: one plain segment.
func trashPath(name string) (string, error) {
	if name == "" || name[0] == '.' || strings.ContainsAny(name, "/\\\x00") || len(name) > 255 {
		return "", fmt.Errorf("%w: trash name %q", ErrUnsafePath, name)
	}
	return trashDir + "/" + name, nil
}
