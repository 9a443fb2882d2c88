package serve

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/pkg/records"
)

// Lookup records are written by hand, byte for byte as pythonJSON writes
// a lookupRecord (TestLookupJSONMatchesPythonJSON compares them): through
// encoding/json and pythonJSON's second pass, the answer to a bulk of
// 1,000 hashes took 40% of hashr-serve's CPU (pprof, 10M-sample set),
// more than reading it from PostgreSQL. A source's package and
// verification still go through pythonJSON, once per source in a
// response: their fields belong to pkg/records and change there.

// lookupJSON appends lookup records to buf.
type lookupJSON struct {
	buf []byte
	// packages and verified hold the encoded package and verification
	// of each source seen in this response, by pointer: a source read
	// once is shared by the links that name it.
	packages map[*records.Package][]byte
	verified map[*records.Verified][]byte
}

// responseBuffers keeps answers' buffers for the next: a bulk's answer
// is a megabyte, and allocating (and clearing) it anew was an eighth of
// what the hand-written encoding left of a bulk's CPU.
var responseBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer is the largest buffer kept for reuse.
const maxPooledBuffer = 8 << 20

// writeLookupJSON sends one record, or with bulk an array of them, as
// writeJSON would.
func writeLookupJSON(w http.ResponseWriter, recs []lookupRecord, bulk bool) {
	pooled := responseBuffers.Get().(*[]byte)
	enc := lookupJSON{buf: (*pooled)[:0]}
	if bulk {
		enc.buf = append(enc.buf, '[')
	}
	for i := range recs {
		if i > 0 {
			enc.buf = append(enc.buf, ", "...)
		}
		enc.record(&recs[i])
	}
	if bulk {
		enc.buf = append(enc.buf, ']')
	}
	body := append(enc.buf, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body) // a ResponseWriter keeps no reference to body
	if cap(body) <= maxPooledBuffer {
		*pooled = body[:0]
		responseBuffers.Put(pooled)
	}
}

// key starts a member of an object: ", " before all but the first.
func (e *lookupJSON) key(name string, first bool) {
	if !first {
		e.buf = append(e.buf, ", "...)
	}
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, `": `...)
}

// optional writes a string member that lookupRecord marks omitempty.
func (e *lookupJSON) optional(name, value string, first bool) bool {
	if value == "" {
		return first
	}
	e.key(name, first)
	e.buf = appendPythonString(e.buf, value)
	return false
}

func (e *lookupJSON) str(name, value string) {
	e.key(name, false)
	e.buf = appendPythonString(e.buf, value)
}

// record writes rec's members in lookupRecord's order.
func (e *lookupJSON) record(rec *lookupRecord) {
	e.buf = append(e.buf, '{')
	first := e.optional("CRC32", rec.CRC32, true)
	first = e.optional("FileName", rec.FileName, first)
	first = e.optional("FileSize", rec.FileSize, first)
	first = e.optional("MD5", rec.MD5, first)
	first = e.optional("SHA-1", rec.SHA1, first)
	e.key("SHA-256", first)
	e.buf = appendPythonString(e.buf, rec.SHA256)
	e.optional("SHA-512", rec.SHA512, false)
	e.optional("SSDEEP", rec.SSDEEP, false)
	e.optional("TLSH", rec.TLSH, false)
	e.optional("mimetype", rec.MIME, false)
	e.str("source", rec.Source)
	e.key("hashlookup:parent-total", false)
	e.buf = strconv.AppendInt(e.buf, int64(rec.ParentTotal), 10)
	e.key("parents", false)
	appendList(e, rec.Parents, e.parent)
	e.key("hashlookup:trust", false)
	e.buf = strconv.AppendInt(e.buf, int64(rec.Trust), 10)
	e.key("hashr:sources", false)
	appendList(e, rec.Sources, e.provenance)
	e.buf = append(e.buf, '}')
}

func (e *lookupJSON) parent(p *parentRecord) {
	e.buf = append(e.buf, '{')
	first := e.optional("FileName", p.FileName, true)
	first = e.optional("FileSize", p.FileSize, first)
	first = e.optional("MD5", p.MD5, first)
	first = e.optional("SHA-1", p.SHA1, first)
	e.key("SHA-256", first)
	e.buf = appendPythonString(e.buf, p.SHA256)
	e.key("ProductCode", false)
	e.buf = append(e.buf, `{"ProductName": `...)
	e.buf = appendPythonString(e.buf, p.ProductCode.ProductName)
	e.buf = append(e.buf, `, "ProductVersion": `...)
	e.buf = appendPythonString(e.buf, p.ProductCode.ProductVersion)
	e.buf = append(e.buf, "}}"...)
}

func (e *lookupJSON) provenance(p *hashrProvenance) {
	e.buf = append(e.buf, '{')
	e.key("sha256", true)
	e.buf = appendPythonString(e.buf, p.SHA256)
	e.str("repo", p.Repo)
	e.key("ids", false)
	e.strings(p.IDs)
	e.optional("uri", p.URI, false)
	e.key("paths", false)
	e.strings(p.Paths)
	e.str("status", p.Status)
	if p.Failed {
		e.key("failed", false)
		e.buf = append(e.buf, "true"...)
	}
	if p.Package != nil {
		e.key("package", false)
		e.buf = append(e.buf, encodedOnce(&e.packages, p.Package)...)
	}
	if p.Verified != nil {
		e.key("verified", false)
		e.buf = append(e.buf, encodedOnce(&e.verified, p.Verified)...)
	}
	e.buf = append(e.buf, '}')
}

// strings writes a list of strings; nil is null, as encoding/json has it.
func (e *lookupJSON) strings(list []string) {
	if list == nil {
		e.buf = append(e.buf, "null"...)
		return
	}
	appendList(e, list, func(s *string) { e.buf = appendPythonString(e.buf, *s) })
}

// appendList writes items as a JSON array, each by write, with the ", "
// separator pythonJSON writes.
func appendList[T any](e *lookupJSON, items []T, write func(*T)) {
	e.buf = append(e.buf, '[')
	for i := range items {
		if i > 0 {
			e.buf = append(e.buf, ", "...)
		}
		write(&items[i])
	}
	e.buf = append(e.buf, ']')
}

// encodedOnce is pythonJSON of v, encoded the first time the response
// names it.
func encodedOnce[T any](memo *map[*T][]byte, v *T) []byte {
	if b, ok := (*memo)[v]; ok {
		return b
	}
	b, err := pythonJSON(v)
	if err != nil {
		b = []byte("null\n") // plain strings and bools: cannot fail
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	if *memo == nil {
		*memo = map[*T][]byte{}
	}
	(*memo)[v] = b
	return b
}

// appendPythonString appends s quoted as pythonJSON writes a string:
// encoding/json's escapes (HTML characters left as they are, invalid
// UTF-8 as U+FFFD), then every non-ASCII character as \uXXXX.
func appendPythonString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		buf = append(buf, s[start:i]...)
		if c < utf8.RuneSelf {
			buf = appendASCIIEscape(buf, c)
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			buf = appendUnicodeEscape(buf, r) // an invalid byte decodes to U+FFFD
			i += size
		}
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendASCIIEscape escapes an ASCII character as encoding/json does.
func appendASCIIEscape(buf []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(buf, '\\', c)
	case '\b':
		return append(buf, `\b`...)
	case '\f':
		return append(buf, `\f`...)
	case '\n':
		return append(buf, `\n`...)
	case '\r':
		return append(buf, `\r`...)
	case '\t':
		return append(buf, `\t`...)
	}
	const hexDigits = "0123456789abcdef"
	return append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}
