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

func answerOf(q *query) answer {
	var a answer
	capped := false
	for _, s := range q.matches {
		a.sourcesTotal += s.Total
		capped = capped || s.Total > int64(len(s.Links))
		for _, l := range s.Links {
			source := hex.EncodeToString(l.Source)
			a.sources = append(a.sources, source)
			a.addProvenance(source, l.Package, l.Verified)
			a.ids = append(a.ids, l.IDs...)
			a.paths = append(a.paths, l.Paths...)
			if l.Failed {
				a.failedSources = append(a.failedSources, hex.EncodeToString(l.Source))
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

func write(p *cli.Program, w *records.Writer, o *options, q *query) error {
	switch {
	case q.failure != nil:
		p.Failf("%s", q.failure.Message)
		return w.Write(q.failure)
	case q.pass != nil:
		return w.WriteRaw(q.pass)
	}
	if (o.only == "known" && !q.known) || (o.only == "unknown" && q.known) {
		return nil
	}
	a := answerOf(q)
	if q.hash != nil {
		h := q.hash
		h.Known, h.Sources, h.IDs, h.Paths, h.FailedSources = q.known, a.sources, a.ids, a.paths, a.failedSources
		h.SourcesTotal = a.sourcesTotal
		h.Packages, h.Verified = a.packages, a.verified
		line, err := marshal(h)
		if err != nil {
			return err
		}
		return w.WriteRaw(&records.Raw{Type: "hash", Line: line})
	}
	fields, err := a.fields(q.known)
	if err != nil {
		return err
	}
	f := q.file
	if len(f.Extra) == 0 {
		line, err := appendFields(f, fields)
		if err != nil {
			return err
		}
		return w.WriteRaw(&records.Raw{Type: records.TypeFile, Line: line})
	}
	for _, name := range answerFields {
		delete(f.Extra, name)
	}
	for _, field := range fields {
		f.Extra[field.name] = field.value
	}
	return w.Write(f)
}

// field is one field of a lookup's answer, its value encoded.
type field struct {
	name  string
	value json.RawMessage
}

// fields are the fields a lookup adds to a file record, in the order of
// their names, as a record's extra fields are written (answerFields are
// all it may add).
func (a *answer) fields(known bool) ([]field, error) {
	if !known {
		return []field{{"known", jsonBool[false]}}, nil
	}
	fields := make([]field, 0, 8)
	if len(a.failedSources) > 0 {
		fields = append(fields, field{"failed_sources", marshalStrings(a.failedSources)})
	}
	fields = append(fields, field{"ids", marshalStrings(a.ids)}, field{"known", jsonBool[true]})
	if a.packages != nil {
		value, err := marshal(a.packages)
		if err != nil {
			return nil, fmt.Errorf("encoding the packages of an answer: %w", err)
		}
		fields = append(fields, field{"packages", value})
	}
	fields = append(fields, field{"paths", marshalStrings(a.paths)}, field{"sources", marshalStrings(a.sources)})
	if a.sourcesTotal > 0 {
		fields = append(fields, field{"sources_total", json.RawMessage(strconv.FormatInt(a.sourcesTotal, 10))})
	}
	// "sources_verified", not "verified": a file record has a verified of
	// its own (a PE member's Authenticode check), which records.Writer
	// keeps over an extra field of that name.
	if a.verified != nil {
		value, err := marshal(a.verified)
		if err != nil {
			return nil, fmt.Errorf("encoding the verified of an answer: %w", err)
		}
		fields = append(fields, field{"sources_verified", value})
	}
	return fields, nil
}

// appendFields is records.Marshal of f (which has no extra fields) with
// fields as its extra fields: the bytes that w.Write(f) writes with them
// in f.Extra, without the map, its sorting and each value's json.Compact
// for every file (a twentieth of hashr-lookup's CPU over a tree of small
// files, pprof).
func appendFields(f *records.File, fields []field) ([]byte, error) {
	line, err := records.Marshal(f)
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

// marshalStrings is json.Marshal of list ([] for nil), byte for byte,
// without its reflection for each of a known file's three or four lists
// (a twentieth of hashr-lookup's CPU over a tree of small files).
func marshalStrings(list []string) json.RawMessage {
	n := 2
	for _, s := range list {
		n += len(s) + 3
	}
	b := make([]byte, 0, n)
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
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always encodes
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

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
