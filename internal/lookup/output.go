package lookup

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

// hashRecord is the output for a bare hash read from stdin.
type hashRecord struct {
	Type    string   `json:"type"` // "hash"
	MD5     string   `json:"md5,omitempty"`
	SHA1    string   `json:"sha1,omitempty"`
	SHA256  string   `json:"sha256,omitempty"`
	Path    string   `json:"path,omitempty"`
	Known   bool     `json:"known"`
	Sources []string `json:"sources,omitempty"`
	IDs     []string `json:"ids,omitempty"`
	Paths   []string `json:"paths,omitempty"`
	// SourcesTotal is how many sources hold the sample, when --max-sources
	// left some out of Sources.
	SourcesTotal int64 `json:"sources_total,omitempty"`
	// FailedSources (--include-failed) are the sources that do not vouch
	// for the sample: failed, or holding it only at failed members.
	FailedSources []string `json:"failed_sources,omitempty"`
	// Packages and Verified are the package and verification of the
	// sources that have them, by source SHA-256. Verified is named
	// sources_verified: a file record's own verified is the file's.
	Packages map[string]*records.Package  `json:"packages,omitempty"`
	Verified map[string]*records.Verified `json:"sources_verified,omitempty"`
}

// answer is where a known sample was found: its sources' SHA-256s, their
// IDs and the sample's paths in them, each sorted and distinct.
type answer struct {
	sources, ids, paths []string
	failedSources       []string // of sources, those whose link is Failed
	// sourcesTotal is how many sources hold the sample when the reader's
	// cap left some out of sources, else 0.
	sourcesTotal int64
	// packages and verified map a source's SHA-256 (as in sources) to
	// its package and verified, for the sources that have them.
	packages map[string]*records.Package
	verified map[string]*records.Verified
}

// recordWriter writes the answered queries in turn, from one goroutine,
// and keeps what it builds each record in for the next: a known file's
// answer, its encoded fields and its line took a dozen allocations a
// record, and the hex of its source one more, where a set has few sources
// (over /usr/share/man, a fifth of hashr-lookup's allocations).
type recordWriter struct {
	p *cli.Program
	w *records.Writer
	o *options

	sourceHex map[string]string // a source's SHA-256 → its hex
	ans       answer
	fields    []field
	values    []byte // the fields' values, encoded
	line      []byte
}

func newRecordWriter(p *cli.Program, w *records.Writer, o *options) *recordWriter {
	return &recordWriter{p: p, w: w, o: o, sourceHex: map[string]string{}}
}

// hex is the hex of a source's SHA-256.
func (rw *recordWriter) hex(sha []byte) string {
	if s, ok := rw.sourceHex[string(sha)]; ok {
		return s
	}
	s := hex.EncodeToString(sha)
	if len(rw.sourceHex) >= maxSourceHex {
		clear(rw.sourceHex)
	}
	rw.sourceHex[string(sha)] = s
	return s
}

// maxSourceHex bounds the sources whose hex a recordWriter keeps.
const maxSourceHex = 1 << 16

// answerOf sets rw.ans to q's answer and returns it; it is valid until
// the next call.
func (rw *recordWriter) answerOf(q *query) *answer {
	a := &rw.ans
	*a = answer{sources: a.sources[:0], ids: a.ids[:0], paths: a.paths[:0], failedSources: a.failedSources[:0]}
	capped := false
	for _, s := range q.matches {
		a.sourcesTotal += s.Total
		capped = capped || s.Total > int64(len(s.Links))
		for _, l := range s.Links {
			source := rw.hex(l.Source)
			a.sources = append(a.sources, source)
			a.addProvenance(source, l.Package, l.Verified)
			a.ids = append(a.ids, l.IDs...)
			a.paths = append(a.paths, l.Paths...)
			if l.Failed {
				a.failedSources = append(a.failedSources, source)
			}
		}
	}
	for _, list := range []*[]string{&a.sources, &a.ids, &a.paths, &a.failedSources} {
		slices.Sort(*list)
		*list = slices.Compact(*list)
	}
	if !capped {
		a.sourcesTotal = 0
	}
	return a
}

func (a *answer) addProvenance(source string, pkg *records.Package, verified *records.Verified) {
	if pkg != nil {
		if a.packages == nil {
			a.packages = map[string]*records.Package{}
		}
		a.packages[source] = pkg
	}
	if verified != nil {
		if a.verified == nil {
			a.verified = map[string]*records.Verified{}
		}
		a.verified[source] = verified
	}
}

// answerFields are the fields a lookup adds to a file record; an input
// record's own are replaced.
var answerFields = []string{"known", "sources", "ids", "paths", "sources_total", "failed_sources", "packages", "sources_verified"}

func (rw *recordWriter) write(q *query) error {
	switch {
	case q.failure != nil:
		rw.p.Failf("%s", q.failure.Message)
		return rw.w.Write(q.failure)
	case q.pass != nil:
		return rw.w.WriteRaw(q.pass)
	}
	o := rw.o
	if (o.only == "known" && !q.known) || (o.only == "unknown" && q.known) {
		return nil
	}
	a := rw.answerOf(q)
	if q.hash != nil {
		h := q.hash
		h.Known, h.Sources, h.IDs, h.Paths, h.FailedSources = q.known, a.sources, a.ids, a.paths, a.failedSources
		h.SourcesTotal = a.sourcesTotal
		h.Packages, h.Verified = a.packages, a.verified
		line, err := marshal(h)
		if err != nil {
			return err
		}
		return rw.w.WriteRaw(&records.Raw{Type: "hash", Line: line})
	}
	var err error
	rw.fields, rw.values, err = a.appendFields(rw.fields[:0], rw.values[:0], q.known)
	if err != nil {
		return err
	}
	f := q.file
	if len(f.Extra) == 0 {
		if rw.line, err = appendFields(rw.line[:0], f, rw.fields); err != nil {
			return err
		}
		return rw.w.WriteRaw(&records.Raw{Type: records.TypeFile, Line: rw.line})
	}
	for _, name := range answerFields {
		delete(f.Extra, name)
	}
	for _, field := range rw.fields {
		f.Extra[field.name] = bytes.Clone(field.value) // rw.values is written again for the next record
	}
	return rw.w.Write(f)
}

// field is one field of a lookup's answer, its value encoded.
type field struct {
	name  string
	value json.RawMessage
}

// appendFields appends to fields the fields a lookup adds to a file
// record, in the order of their names, as a record's extra fields are
// written (answerFields are all it may add), their values encoded at the
// end of values.
func (a *answer) appendFields(fields []field, values []byte, known bool) ([]field, []byte, error) {
	if !known {
		return append(fields, field{"known", jsonBool[false]}), values, nil
	}
	add := func(name string, list []string) {
		start := len(values)
		values = appendStrings(values, list)
		fields = append(fields, field{name, values[start:len(values):len(values)]})
	}
	if len(a.failedSources) > 0 {
		add("failed_sources", a.failedSources)
	}
	add("ids", a.ids)
	fields = append(fields, field{"known", jsonBool[true]})
	if a.packages != nil {
		value, err := marshal(a.packages)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding the packages of an answer: %w", err)
		}
		fields = append(fields, field{"packages", value})
	}
	add("paths", a.paths)
	add("sources", a.sources)
	if a.sourcesTotal > 0 {
		fields = append(fields, field{"sources_total", json.RawMessage(strconv.FormatInt(a.sourcesTotal, 10))})
	}
	// "sources_verified", not "verified": a file record has a verified of
	// its own (a PE member's Authenticode check), which records.Writer
	// keeps over an extra field of that name.
	if a.verified != nil {
		value, err := marshal(a.verified)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding the verified of an answer: %w", err)
		}
		fields = append(fields, field{"sources_verified", value})
	}
	return fields, values, nil
}

// appendFields appends to line records.Marshal of f (which has no extra
// fields) with fields as its extra fields: the bytes that w.Write(f)
// writes with them in f.Extra, without the map, its sorting and each
// value's json.Compact for every file (a twentieth of hashr-lookup's CPU
// over a tree of small files, pprof).
func appendFields(line []byte, f *records.File, fields []field) ([]byte, error) {
	line, err := records.MarshalAppend(line, f)
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1] // the closing brace
	for _, field := range fields {
		line = append(line, ',', '"')
		line = append(line, field.name...)
		line = append(line, '"', ':')
		line = append(line, field.value...)
	}
	return append(line, '}'), nil
}

var jsonBool = map[bool]json.RawMessage{false: json.RawMessage("false"), true: json.RawMessage("true")}

// appendStrings appends json.Marshal of list ([] for nil), byte for byte,
// without its reflection for each of a known file's three or four lists
// (a twentieth of hashr-lookup's CPU over a tree of small files).
func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as json.Marshal writes it: as it is when it
// holds nothing that json.Marshal escapes (quotes, backslashes, control
// and non-ASCII characters, and <, >, & as it escapes for HTML).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSONByte[s[i]] {
			quoted, _ := json.Marshal(s) // a string always encodes
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSONByte says which bytes json.Marshal writes as they are: one
// test a byte, where seven comparisons took a twelfth of the lookups'
// own instructions over /usr/share/man (callgrind).
var plainJSONByte = func() (plain [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		plain[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return plain
}()

func marshal(v any) (json.RawMessage, error) {
	if s, ok := v.([]string); ok && s == nil {
		v = []string{}
	}
	var b bytes.Buffer // as records are written: "<" stays "<"
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
