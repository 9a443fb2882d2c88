package dedup

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/hashr-dev/hashr/internal/hexdigit"
	"github.com/hashr-dev/hashr/internal/store"
	"github.com/hashr-dev/hashr/pkg/records"
)

// lineKind is what hashr-dedup does with an input line.
type lineKind uint8

const (
	kindOther   lineKind = iota // a record dedup does not handle: passed through
	kindBad                     // not a record: reported, and an error record in its place, as every stage does
	kindFile                    // a file record with a sha256: marked seen or new
	kindFileBad                 // a file record without a usable sha256: becomes an error record
	kindEnd                     // a source's end record: gets this stage's figures
)

// line is one input line, parsed only as far as dedup needs: a single scan
// finds the type, sha256, source and any seen field, and the output is the
// line's own bytes with seen set.
type line struct {
	text   []byte // the record, trimmed; its capacity ends with it
	kind   lineKind
	key    store.Key // the sha256, for kindFile
	srcKey store.Key // the source's sha256, when hasSrc
	hasSrc bool
	// source is the record's "source" (the source's sha256), by which
	// the source's end record is found.
	source []byte
	// seenAt and seenEnd delimit the value of a "seen" member the record
	// already has (a stream deduplicated twice); seenAt is -1 without one.
	seenAt, seenEnd int
	input           string // the input's name, "stdin" or a file
	lineNo          int64
	err             error // for kindBad and kindFileBad
}

// where names the line for messages, e.g. "stdin:12".
func (l *line) where() string { return fmt.Sprintf("%s:%d", l.input, l.lineNo) }

var errNoSHA256 = errors.New("file record has no sha256; run hashr-hash before hashr-dedup")

func parseLine(text []byte, input string, lineNo int64) line {
	l := line{text: text, input: input, lineNo: lineNo, seenAt: -1}
	var typ, sha, src, seen []byte
	err := records.Members(text, func(name, value []byte) bool {
		switch string(name) {
		case "type":
			typ = value
		case "sha256":
			sha = value
		case "source":
			src = value
		case "seen":
			seen = value
		}
		return true
	})
	if err != nil {
		l.kind, l.err = kindBad, describeSyntax(err)
		return l
	}
	if typ == nil {
		l.kind, l.err = kindBad, errors.New(`record has no "type" field`)
		return l
	}
	// Types dedup handles are plain ASCII, so the raw value is enough to
	// recognise them; anything else passes through.
	switch {
	case bytes.Equal(typ, []byte(`"file"`)):
	case bytes.Equal(typ, []byte(`"end"`)):
		l.kind = kindEnd
		return l
	default:
		if t, err := records.StringValue(typ); err != nil || t == "" {
			l.kind, l.err = kindBad, fmt.Errorf(`record's "type" is %s, want a non-empty string`, typ)
			return l
		} else if t == records.TypeFile || t == records.TypeEnd {
			// Spelt with escapes: take the slow, general path.
			return parseEscapedType(l, t)
		}
		return l
	}
	l.source = stringBytes(src)
	if k, ok := decodeHex(l.source); ok {
		l.srcKey, l.hasSrc = k, true
	}
	if seen != nil {
		l.seenAt = valueOffset(text, seen)
		l.seenEnd = l.seenAt + len(seen)
	}
	l.key, l.err = parseSHA256(sha)
	if l.err != nil {
		l.kind = kindFileBad
	} else {
		l.kind = kindFile
	}
	return l
}

// parseEscapedType handles a record whose type is "file" or "end" written
// with escapes, by parsing the fields again one at a time.
func parseEscapedType(l line, typ string) line {
	if typ == records.TypeEnd {
		l.kind = kindEnd
		return l
	}
	sha, _, _ := records.Field(l.text, "sha256")
	src, _, _ := records.Field(l.text, "source")
	seen, hasSeen, _ := records.Field(l.text, "seen")
	l.source = stringBytes(src)
	if k, ok := decodeHex(l.source); ok {
		l.srcKey, l.hasSrc = k, true
	}
	if hasSeen {
		l.seenAt = valueOffset(l.text, seen)
		l.seenEnd = l.seenAt + len(seen)
	}
	l.key, l.err = parseSHA256(sha)
	l.kind = kindFile
	if l.err != nil {
		l.kind = kindFileBad
	}
	return l
}

// valueOffset is where value, a subslice of text handed out by
// records.Members, starts in text. text's capacity ends with it, so the
// capacities say how far into it value starts.
func valueOffset(text, value []byte) int { return cap(text) - cap(value) }

// stringBytes returns the contents of a raw JSON string value, unescaped;
// nil for anything else.
func stringBytes(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	s, err := records.StringValue(v)
	if err != nil {
		return nil
	}
	return []byte(s)
}

func parseSHA256(v []byte) (store.Key, error) {
	if v == nil || bytes.Equal(v, []byte(`""`)) || bytes.Equal(v, []byte("null")) {
		return store.Key{}, errNoSHA256
	}
	s := stringBytes(v)
	if s == nil {
		return store.Key{}, fmt.Errorf("sha256 is %s, want a string of 64 lowercase hex digits", v)
	}
	k, ok := decodeHex(s)
	if !ok {
		if err := records.CheckHex("sha256", string(s)); err != nil {
			return store.Key{}, err
		}
		return store.Key{}, fmt.Errorf("sha256 %q is not 64 lowercase hex digits", s)
	}
	return k, nil
}

// decodeHex decodes 64 lowercase hex digits, as records carry digests.
func decodeHex(s []byte) (k store.Key, ok bool) {
	ok = len(s) == 2*store.KeySize && hexdigit.Decode(k[:], s, false)
	return k, ok
}

func describeSyntax(err error) error {
	if errors.Is(err, records.ErrNotObject) {
		return err
	}
	return fmt.Errorf("%w: %w", records.ErrNotObject, err)
}
