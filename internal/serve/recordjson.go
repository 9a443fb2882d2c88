package serve

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/internal/swar"
)

// Lookup records are written by hand, byte for byte as pythonJSON writes
// newLookupRecord's lookupRecord (TestLookupJSONMatchesPythonJSON
// compares them; lookupRecord is the shape, written out as types): through
// encoding/json and pythonJSON's second pass, the answer to a bulk of
// 1,000 hashes took 40% of hashr-serve's CPU (pprof, 10M-sample set),
// more than reading it from PostgreSQL. A source's package and
// verification still go through pythonJSON, once per source while it is
// cached (sourceJSON): their fields belong to pkg/records and change there.

// lookupJSON appends lookup records to buf.
type lookupJSON struct {
	buf []byte
}

// responseBuffers keeps answers' buffers for the next: a bulk's answer
// is a megabyte, and allocating (and clearing) it anew was an eighth of
// what the hand-written encoding left of a bulk's CPU.
var responseBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer is the largest buffer kept for reuse.
const maxPooledBuffer = 8 << 20

// writeLookupJSON sends the record of one sample, or with bulk an array
// of them, as writeJSON would send newLookupRecord of each. The records
// are written from the samples as they are: building a lookupRecord
// first made seven strings a record and a slice of each list, a fifth
// of hashr-serve's instructions for a bulk with the allocation and
// collection they took.
func writeLookupJSON(w http.ResponseWriter, samples []*db.ServedSample, bulk bool) {
	pooled := responseBuffers.Get().(*[]byte)
	enc := lookupJSON{buf: (*pooled)[:0]}
	if bulk {
		enc.buf = append(enc.buf, '[')
	}
	for i, s := range samples {
		if i > 0 {
			enc.buf = append(enc.buf, ", "...)
		}
		enc.sample(s)
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

// digest writes a digest member in upper-case hex, as upperHex; with
// optional, none for no digest (lookupRecord's omitempty).
func (e *lookupJSON) digest(name string, d []byte, optional, first bool) bool {
	if optional && len(d) == 0 {
		return first
	}
	e.key(name, first)
	e.buf = appendQuotedHex(e.buf, d, true)
	return false
}

// size writes a FileSize member, a string as CIRCL's; none when unknown.
func (e *lookupJSON) size(n int64, first bool) bool {
	if n < 0 {
		return first
	}
	e.key("FileSize", first)
	e.buf = append(e.buf, '"')
	e.buf = strconv.AppendInt(e.buf, n, 10)
	e.buf = append(e.buf, '"')
	return false
}

// sample writes newLookupRecord(s)'s members in lookupRecord's order.
func (e *lookupJSON) sample(s *db.ServedSample) {
	e.buf = append(e.buf, '{')
	first := e.digest("CRC32", s.CRC32, true, true)
	first = e.optional("FileName", fileName(s), first)
	first = e.size(s.Size, first)
	first = e.digest("MD5", s.MD5, true, first)
	first = e.digest("SHA-1", s.SHA1, true, first)
	e.digest("SHA-256", s.SHA256, false, first)
	e.digest("SHA-512", s.SHA512, true, false)
	e.optional("SSDEEP", s.SSDEEP, false)
	e.optional("TLSH", s.TLSH, false)
	e.optional("mimetype", s.MIME, false)
	e.str("source", "hashr")
	parentTotal := int(s.LinkTotal)
	e.key("hashlookup:parent-total", false)
	e.buf = strconv.AppendInt(e.buf, int64(parentTotal), 10)
	e.key("parents", false)
	appendList(e, s.Links[:parentsOf(s)], e.parent)
	e.key("hashlookup:trust", false)
	e.buf = strconv.AppendInt(e.buf, int64(trust(parentTotal)), 10)
	e.key("hashr:sources", false)
	appendList(e, s.Links[:min(len(s.Links), sourcesShown)], e.provenance)
	e.buf = append(e.buf, '}')
}

// sourceJSON is what a source adds to every record that names it, kept
// in the source's memo: the record in parents, and the provenance's
// members around the link's own paths and failed. A bulk of 1,000 names
// about as many sources, and a source's ~470 bytes were written anew for
// each record, half the answer's bytes.
type sourceJSON struct {
	parent []byte // newParentRecord
	// head is hashrProvenance's members before the paths' list: `{…,
	// "paths": `; status the one after (`, "status": …`), then the
	// link's failed, then tail (package and verified, and '}').
	head, status, tail []byte
}

// sourceJSONOf is src's sourceJSON, made the first time a response
// names the source while it is cached.
func sourceJSONOf(src *db.ServedSource) *sourceJSON {
	return src.Memo.Get(func() any { return newSourceJSON(src) }).(*sourceJSON)
}

func newSourceJSON(src *db.ServedSource) *sourceJSON {
	var e lookupJSON
	var j sourceJSON
	e.parentOf(src)
	j.parent = e.cut()
	e.buf = append(e.buf, '{')
	e.key("sha256", true)
	e.buf = appendQuotedHex(e.buf, src.SHA256, false)
	e.str("repo", src.Repo)
	e.key("ids", false)
	e.strings(src.IDs)
	e.optional("uri", src.URI, false)
	e.key("paths", false)
	j.head = e.cut()
	e.str("status", src.Status)
	j.status = e.cut()
	if src.Package != nil {
		e.key("package", false)
		e.buf = append(e.buf, pythonJSONValue(src.Package)...)
	}
	if src.Verified != nil {
		e.key("verified", false)
		e.buf = append(e.buf, pythonJSONValue(src.Verified)...)
	}
	e.buf = append(e.buf, '}')
	j.tail = e.cut()
	return &j
}

// cut returns what was written since the last cut, in a slice of its own.
func (e *lookupJSON) cut() []byte {
	b := slices.Clone(e.buf)
	e.buf = e.buf[:0]
	return b
}

// parent writes newParentRecord of the link's source.
func (e *lookupJSON) parent(l *db.ServedLink) {
	e.buf = append(e.buf, sourceJSONOf(&l.Source).parent...)
}

// parentOf writes newParentRecord of src.
func (e *lookupJSON) parentOf(src *db.ServedSource) {
	e.buf = append(e.buf, '{')
	first := true
	if len(src.IDs) > 0 {
		first = e.optional("FileName", src.IDs[0], first)
	}
	first = e.size(src.Size, first)
	first = e.digest("MD5", src.MD5, true, first)
	first = e.digest("SHA-1", src.SHA1, true, first)
	e.digest("SHA-256", src.SHA256, false, first)
	code := productCodeOf(src)
	e.key("ProductCode", false)
	e.buf = append(e.buf, `{"ProductName": `...)
	e.buf = appendPythonString(e.buf, code.ProductName)
	e.buf = append(e.buf, `, "ProductVersion": `...)
	e.buf = appendPythonString(e.buf, code.ProductVersion)
	e.buf = append(e.buf, "}}"...)
}

// provenance writes the hashrProvenance of the link.
func (e *lookupJSON) provenance(l *db.ServedLink) {
	j := sourceJSONOf(&l.Source)
	e.buf = append(e.buf, j.head...)
	e.strings(l.Paths)
	e.buf = append(e.buf, j.status...)
	if l.Failed {
		e.key("failed", false)
		e.buf = append(e.buf, "true"...)
	}
	e.buf = append(e.buf, j.tail...)
}

const (
	upperDigits = "0123456789ABCDEF" // CIRCL's digests
	lowerDigits = "0123456789abcdef" // hashr's own, as in its records
)

// hexPairs is every byte's two hex digits as one 16-bit store, in upper
// and in lower case: a bulk's answer has some 340 digits a record, and
// two appends a byte (each checking the buffer's room) were a tenth of
// hashr-serve's instructions for a bulk.
var hexPairs = func() (t [2][256]uint16) {
	for i := range 256 {
		t[0][i] = uint16(upperDigits[i>>4]) | uint16(upperDigits[i&0xF])<<8
		t[1][i] = uint16(lowerDigits[i>>4]) | uint16(lowerDigits[i&0xF])<<8
	}
	return t
}()

// appendQuotedHex appends b in hex, quoted (digits need no escape): in
// upper case as CIRCL's digests, else lower as hashr's own.
func appendQuotedHex(buf, b []byte, upper bool) []byte {
	buf = append(slices.Grow(buf, 2*len(b)+2), '"')
	return append(appendHex(buf, b, upper), '"')
}

// appendHex appends b in hex, in upper or lower case.
func appendHex(buf, b []byte, upper bool) []byte {
	pairs := &hexPairs[1]
	if upper {
		pairs = &hexPairs[0]
	}
	n := len(buf)
	buf = slices.Grow(buf, 2*len(b))[:n+2*len(b)]
	out := buf[n:]
	// Four bytes at a time, one 8-byte store: every digest's length is
	// a multiple of 4.
	for len(b) >= 4 {
		binary.LittleEndian.PutUint64(out, uint64(pairs[b[0]])|uint64(pairs[b[1]])<<16|
			uint64(pairs[b[2]])<<32|uint64(pairs[b[3]])<<48)
		b, out = b[4:], out[8:]
	}
	for i, c := range b {
		binary.LittleEndian.PutUint16(out[2*i:], pairs[c])
	}
	return buf
}

// strings writes a list of strings; nil is [] (newLookupRecord's nonNil).
func (e *lookupJSON) strings(list []string) {
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

// pythonJSONValue is pythonJSON of v, without its newline.
func pythonJSONValue(v any) []byte {
	b, err := pythonJSON(v)
	if err != nil {
		b = []byte("null\n") // plain strings and bools: cannot fail
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// appendPythonString appends s quoted as pythonJSON writes a string:
// encoding/json's escapes (HTML characters left as they are, invalid
// UTF-8 as U+FFFD), then every non-ASCII character as \uXXXX.
func appendPythonString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs an escape: one byte
		// at a time, the strings of a bulk's answer (paths, names,
		// the provenance) were a sixth of hashr-serve's instructions.
		for i+8 <= len(s) {
			// The load written out here: within plainWord, the
			// compiler would not inline it.
			w := s[i : i+8]
			v := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			if !plainWord(v) {
				break
			}
			i += 8
		}
		if i == len(s) {
			break
		}
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

// plainWord says whether none of the 8 bytes of v needs an escape in
// appendPythonString: each is printable ASCII, neither '"' nor '\\'.
func plainWord(v uint64) bool {
	return swar.NonASCII(v)|swar.Below(v, 0x20)|swar.Equal(v, '"')|swar.Equal(v, '\\') == 0
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
	return append(buf, '\\', 'u', '0', '0', lowerDigits[c>>4], lowerDigits[c&0xF])
}
