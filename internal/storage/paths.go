package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// Canonical returns the url that a local url RelPath refuses still names
// when it is served: the static route's server (fasthttp normalises every
// request path) and Balsamoa's Express both collapse repeated slashes and
// resolve "." and ".." segments, so a legacy row's
// "/recursos/imagenes/productos//doble.png" shows the file of
// "/recursos/imagenes/productos/doble.png". ok is false when url is
// canonical already, or when what it names is not a url RelPath accepts
// (outside /recursos/, hidden, a folder): such a url names no file of ours.
func Canonical(url string) (string, bool) {
	if !IsLocal(url) {
		return "", false
	}
	c := path.Clean(url)
	if c == url {
		return "", false
	}
	if _, err := RelPath(c); err != nil {
		return "", false
	}
	return c, true
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

// MaxNameLen is the longest file name a folder takes (ext4, xfs, btrfs:
// 255 bytes). Trash names keep to it on a bucket too, whose keys could be
// longer, so that a store mirrored from one backend to the other holds the
// same names.
const MaxNameLen = 255

// TrashName is the trash file name of entry id deleted at t for url:
// "<id>-<unix time>-<file name>". It carries the entry id (so the janitor can
// match files to entries and tell an aborted delete from a committed one)
// and the deletion time (a rename keeps the file's old mtime, so the time
// must be in the name). The file name is url's own, shortened by
// ShortenName when the whole would not fit in MaxNameLen: a url of 255
// bytes may end in a file name of 245, and the prefix adds 13 to 32 bytes.
// The name is always a function of the entry (id, time, url), which is how
// every step finds the file again; a name that fits is written exactly as
// before shortening existed, so files already in the trash keep theirs.
func TrashName(id int64, t time.Time, url string) string {
	prefix := strconv.FormatInt(id, 10) + "-" + strconv.FormatInt(t.Unix(), 10) + "-"
	return prefix + ShortenName(path.Base(url), MaxNameLen-len(prefix))
}

// hashLen is how many hex digits of a shortened name's SHA-256 it keeps:
// 64 bits, so that of the rows whose names begin alike the janitor's
// recovery tells which one a trash file was (the entry id in the name
// already makes the names themselves unique).
const hashLen = 16

// maxKeptExt is the longest extension a shortened name keeps, dot
// included; a longer one is cut with the rest of the name.
const maxKeptExt = 10

// ShortenName returns name when it fits in limit bytes; else as much of its
// beginning as fits, cut between two UTF-8 characters (a bucket takes only
// valid UTF-8 keys), then "~", 16 hex digits of the SHA-256 of the whole
// name, and its extension when that is short:
// "<beginning>~<hash>.<ext>", exactly limit bytes or up to 3 fewer.
func ShortenName(name string, limit int) string {
	if len(name) <= limit {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	tail := "~" + hex.EncodeToString(sum[:])[:hashLen]
	stem := name
	if ext := path.Ext(name); len(ext) <= maxKeptExt && len(ext) < len(name) {
		tail += ext
		stem = name[:len(name)-len(ext)]
	}
	keep := min(max(0, limit-len(tail)), len(stem))
	for keep > 0 && !utf8.RuneStart(stem[keep]) {
		keep--
	}
	return stem[:keep] + tail
}

// IsTrashNameOf reports whether trash file name is one TrashName gives for
// url (whatever its entry): its file name part is url's file name, or that
// name shortened as TrashName shortens it behind the prefix this name has.
// The janitor's recovery uses it to find the rows and entries a trash file
// without an entry may belong to.
func IsTrashNameOf(name, url string) bool {
	_, _, base, ok := ParseTrashName(name)
	if !ok {
		return false
	}
	return base == ShortenName(path.Base(url), MaxNameLen-(len(name)-len(base)))
}

// ShortenedStem returns, for a trash file name that ShortenName may have
// shortened, the beginning of the file name it kept: every url whose trash
// name this can be has a file name starting with it. ok is false when the
// name cannot be a shortened one (shorter than a shortened name is, or
// without the "~<hash>" ending); then its file name part is url's whole.
// It narrows the janitor's search, which then checks with IsTrashNameOf.
func ShortenedStem(name string) (stem string, ok bool) {
	_, _, base, parsed := ParseTrashName(name)
	// A shortened name is cut to MaxNameLen, then back to a character's
	// start (at most 3 bytes).
	if !parsed || len(name) < MaxNameLen-utf8.UTFMax+1 || len(name) > MaxNameLen {
		return "", false
	}
	for i := len(base) - 1 - hashLen; i >= 0 && i >= len(base)-1-hashLen-maxKeptExt; i-- {
		if base[i] != '~' || !isLowerHex(base[i+1:i+1+hashLen]) {
			continue
		}
		if ext := base[i+1+hashLen:]; ext == "" || (ext[0] == '.' && !strings.Contains(ext[1:], ".")) {
			return base[:i], i > 0
		}
	}
	return "", false
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseTrashName is the inverse of TrashName; ok is false for other names.
// The base it returns is the file name part as written: for a shortened
// name, not url's file name (see IsTrashNameOf).
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
	if name == "" || name[0] == '.' || strings.ContainsAny(name, "/\\\x00") || len(name) > MaxNameLen {
		return "", fmt.Errorf("%w: trash name %q", ErrUnsafePath, name)
	}
	return trashDir + "/" + name, nil
}
