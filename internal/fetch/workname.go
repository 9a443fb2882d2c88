package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path"
	"strings"
)

// maxBaseName bounds the readable part of a work file's name, well under
// the 255 bytes file systems allow.
const maxBaseName = 80

// workName is the name of a source's file in the work directory: the first
// 16 hex digits of the SHA-256 of its uri, so different URLs never share a
// file, then "-" and the URL's base name made safe, so people can tell what
// it is. It is a single path element of plain characters: nothing in the
// URL (.., %2e%2e, %2f, NUL, control characters) can make it name a place
// outside the work directory.
func workName(uri string, loc *url.URL) string {
	sum := sha256.Sum256([]byte(uri))
	return hex.EncodeToString(sum[:8]) + "-" + safeBaseName(loc.Path)
}

// safeBaseName keeps the last element of p, with every character outside
// [A-Za-z0-9._+-] replaced by "_" and no leading dot.
func safeBaseName(p string) string {
	base := path.Base(p)
	var b strings.Builder
	for _, c := range base {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '+', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= maxBaseName {
			break
		}
	}
	name := strings.TrimLeft(b.String(), ".")
	if name == "" || strings.Trim(name, "_") == "" {
		return "download"
	}
	return name
}
