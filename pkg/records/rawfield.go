package records

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/internal/swar"
)

// This file reads and sets single top-level fields of a record's raw line
// without decoding the whole record: a stage that only needs one or two
// fields (dedup needs "type" and "sha256", and adds "seen") scans the line
// once and writes the original bytes back with its field set, which is many
// times faster than decoding into a map and encoding again, and keeps every
// other byte as it was.

// maxNestingDepth is encoding/json's limit, so that both accept the same lines.
const maxNestingDepth = 10000

// Members calls visit with the name (unescaped) and the raw value bytes of
// every top-level member of the JSON object in line, in order, until visit
// returns false. The whole line is checked, even after visit returns false:
// Members returns an error unless line is exactly one valid JSON object
// (with optional whitespace around it), the same lines encoding/json
// accepts. name and value are only valid during the call.
func Members(line []byte, visit func(name, value []byte) bool) error {
	s := scanner{data: line}
	return s.object(visit)
}

// Field returns the raw bytes of the value of the top-level member name in
// the JSON object line, and whether it is there. When a name occurs more
// than once, the last one counts, as when decoding. It fails if line is
// not one valid JSON object.
func Field(line []byte, name string) (value []byte, ok bool, err error) {
	err = Members(line, func(n, v []byte) bool {
		if string(n) == name {
			value, ok = v, true
		}
		return true
	})
	if err != nil {
		return nil, false, err
	}
	return value, ok, nil
}

// StringField returns the value of the top-level string member name in the
// JSON object line, and whether it is there. It fails if line is not one
// valid JSON object, or if the member is there but is not a string.
func StringField(line []byte, name string) (string, bool, error) {
	v, ok, err := Field(line, name)
	if err != nil || !ok {
		return "", false, err
	}
	s, err := StringValue(v)
	if err != nil {
		return "", false, fmt.Errorf("field %q: %w", name, err)
	}
	return s, true, nil
}

// StringValue decodes a raw JSON value that must be a string. Strings
// without escapes or non-ASCII bytes, the usual case, take a fast path.
func StringValue(v []byte) (string, error) {
	if len(v) < 2 || v[0] != '"' {
		return "", fmt.Errorf("want a string, got JSON %s", jsonKindOf(v))
	}
	inner := v[1 : len(v)-1]
	if plainASCII(inner) {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", err
	}
	return s, nil
}

// plainASCII reports whether b holds only ASCII bytes and no backslash, so
// that as the inside of a JSON string it means exactly its bytes.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf || c == '\\' {
			return false
		}
	}
	return true
}

func jsonKindOf(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// AppendWithField appends to dst the JSON object line with its top-level
// member name set to value: the last member of that name has its value
// replaced, or, when there is none, the member is added at the end. Every
// other byte of line is kept. value must be one valid JSON value.
func AppendWithField(dst, line []byte, name string, value []byte) ([]byte, error) {
	if !json.Valid(value) {
		return dst, fmt.Errorf("setting field %q: %q is not a JSON value", name, value)
	}
	s := scanner{data: line}
	var lastStart, lastEnd, members int
	found := false
	err := s.object(func(n, v []byte) bool {
		members++
		if string(n) == name {
			lastStart, lastEnd = s.valueStart, s.valueStart+len(v)
			found = true
		}
		return true
	})
	if err != nil {
		return dst, err
	}
	if found {
		dst = append(dst, line[:lastStart]...)
		dst = append(dst, value...)
		return append(dst, line[lastEnd:]...), nil
	}
	closing := s.closing // offset of the object's closing brace
	dst = append(dst, line[:closing]...)
	if members > 0 {
		dst = append(dst, ',')
	}
	dst = appendJSONString(dst, name)
	dst = append(dst, ':')
	dst = append(dst, value...)
	return append(dst, line[closing:]...), nil
}

// WithField returns the record's line with its top-level member name set to
// value (see AppendWithField).
func (r *Raw) WithField(name string, value json.RawMessage) ([]byte, error) {
	return AppendWithField(make([]byte, 0, len(r.Line)+len(name)+len(value)+4), r.Line, name, value)
}

func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			var buf bytes.Buffer
			writeJSONString(&buf, s)
			return append(dst, buf.Bytes()...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// scanner checks and walks one JSON text. It never recurses, so a deeply
// nested line costs a small stack of bytes, not goroutine stack.
type scanner struct {
	data []byte
	pos  int
	// valueStart is where the value being visited starts; closing is the
	// offset of the top-level object's closing brace once object returns.
	valueStart int
	closing    int
	nest       [64]byte
	// index, when set, is given the offsets of the top-level members as
	// object scans them (see memberIndex).
	index *memberIndex
}

var errUnexpectedEnd = errors.New("unexpected end of JSON input")

// ErrNotObject is a line that is not one JSON object: every error saying
// so wraps it, so a caller asks errors.Is rather than reading the text.
var ErrNotObject = errors.New("not a JSON object")

func (s *scanner) syntaxError(what string) error {
	if s.pos >= len(s.data) {
		return errUnexpectedEnd
	}
	return fmt.Errorf("invalid character %q %s (at byte %d)", s.data[s.pos], what, s.pos+1)
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// object scans the whole input as one object, visiting its members.
func (s *scanner) object(visit func(name, value []byte) bool) error {
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		if s.pos >= len(s.data) {
			return errUnexpectedEnd
		}
		return fmt.Errorf("%w: the line starts with %q", ErrNotObject, s.data[s.pos])
	}
	s.pos++
	s.skipSpace()
	visiting := true
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.closing = s.pos
		s.pos++
	} else {
		for {
			nameStart := s.pos + 1 // past the quote
			name, err := s.name()
			if err != nil {
				return err
			}
			s.skipSpace()
			s.valueStart = s.pos
			if err := s.value(2); err != nil {
				return err
			}
			if s.index != nil {
				s.index.add(s.data, nameStart, name, s.valueStart, s.pos)
			}
			if visiting {
				visiting = visit(name, s.data[s.valueStart:s.pos])
			}
			s.skipSpace()
			if s.pos >= len(s.data) {
				return errUnexpectedEnd
			}
			if c := s.data[s.pos]; c == ',' {
				s.pos++
				s.skipSpace()
				continue
			} else if c == '}' {
				s.closing = s.pos
				s.pos++
				break
			}
			return s.syntaxError("after object key:value pair")
		}
	}
	s.skipSpace()
	if s.pos < len(s.data) {
		return s.syntaxError("after top-level value")
	}
	return nil
}

// name scans a member name and the colon after it, and returns the name
// unescaped.
func (s *scanner) name() ([]byte, error) {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return nil, s.syntaxError("looking for beginning of object key string")
	}
	start := s.pos
	if err := s.str(); err != nil {
		return nil, err
	}
	raw := s.data[start:s.pos]
	name := raw[1 : len(raw)-1]
	if !plainASCII(name) && (bytes.IndexByte(name, '\\') >= 0 || !utf8.Valid(name)) {
		var decoded string
		if err := json.Unmarshal(raw, &decoded); err != nil {
			return nil, err
		}
		name = []byte(decoded)
	}
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != ':' {
		return nil, s.syntaxError("after object key")
	}
	s.pos++
	return name, nil
}

// str scans a string starting at its opening quote. Its plain bytes are
// skipped by a loop of its own on a local index, one table lookup a byte:
// with s.pos read and written at each byte, under a switch, the scan of
// strings was a fifth of hashr-load's instructions per record (callgrind).
func (s *scanner) str() error {
	data, pos := s.data, s.pos+1 // past the opening quote
	for {
		// Eight bytes at a time while none of them is special, then
		// one at a time up to the one that is.
		for pos+8 <= len(data) && !hasStrSpecial(binary.LittleEndian.Uint64(data[pos:])) {
			pos += 8
		}
		for pos < len(data) && !strSpecial[data[pos]] {
			pos++
		}
		if pos >= len(data) {
			s.pos = pos
			return errUnexpectedEnd
		}
		switch c := data[pos]; {
		case c == '"':
			s.pos = pos + 1
			return nil
		case c < 0x20:
			s.pos = pos
			return s.syntaxError("in string literal")
		}
		// A backslash.
		pos++
		if pos >= len(data) {
			s.pos = pos
			return errUnexpectedEnd
		}
		switch data[pos] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			pos++
		case 'u':
			pos++
			for range 4 {
				if pos >= len(data) {
					s.pos = pos
					return errUnexpectedEnd
				}
				if !isHexDigit(data[pos]) {
					s.pos = pos
					return s.syntaxError("in \\u hexadecimal character escape")
				}
				pos++
			}
		default:
			s.pos = pos
			return s.syntaxError("in string escape code")
		}
	}
}

// hasStrSpecial says whether one of the eight bytes of w is special
// (strSpecial): a byte below 0x20, a quote or a backslash.
func hasStrSpecial(w uint64) bool {
	return swar.Below(w, 0x20)|swar.Equal(w, '"')|swar.Equal(w, '\\') != 0
}

// strSpecial marks the bytes that end a string's run of plain bytes: its
// closing quote, an escape's backslash, and the control characters a
// JSON string may not hold.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// value scans one value of any kind; depth is the nesting depth a container
// starting here would have.
func (s *scanner) value(depth int) error {
	stack := s.nest[:0]
	for {
		// A value starts here.
		if s.pos >= len(s.data) {
			return errUnexpectedEnd
		}
		switch c := s.data[s.pos]; {
		case c == '{' || c == '[':
			if depth+len(stack) > maxNestingDepth {
				return errors.New("exceeded max depth")
			}
			s.pos++
			s.skipSpace()
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if s.pos < len(s.data) && s.data[s.pos] == closer {
				s.pos++
				break // an empty container is a whole value
			}
			stack = append(stack, closer)
			if closer == '}' {
				if _, err := s.name(); err != nil {
					return err
				}
				s.skipSpace()
			}
			continue
		case c == '"':
			if err := s.str(); err != nil {
				return err
			}
		case c == 't':
			if err := s.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := s.literal("null"); err != nil {
				return err
			}
		case c == '-' || '0' <= c && c <= '9':
			if err := s.number(); err != nil {
				return err
			}
		default:
			return s.syntaxError("looking for beginning of value")
		}
		// A value ended: close the containers it ends, or go on to the
		// next element of the innermost one.
		for {
			if len(stack) == 0 {
				return nil
			}
			s.skipSpace()
			if s.pos >= len(s.data) {
				return errUnexpectedEnd
			}
			top := stack[len(stack)-1]
			c := s.data[s.pos]
			if c == top {
				s.pos++
				stack = stack[:len(stack)-1]
				continue
			}
			if c != ',' {
				if top == '}' {
					return s.syntaxError("after object key:value pair")
				}
				return s.syntaxError("after array element")
			}
			s.pos++
			s.skipSpace()
			if top == '}' {
				if _, err := s.name(); err != nil {
					return err
				}
				s.skipSpace()
			}
			break
		}
	}
}

func (s *scanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if s.pos >= len(s.data) {
			return errUnexpectedEnd
		}
		if s.data[s.pos] != word[i] {
			return s.syntaxError("in literal " + word)
		}
		s.pos++
	}
	return nil
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.data) {
		return errUnexpectedEnd
	}
	switch c := s.data[s.pos]; {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return s.syntaxError("in numeric literal")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if s.pos >= len(s.data) {
			return errUnexpectedEnd
		}
		if !isDigit(s.data[s.pos]) {
			return s.syntaxError("after decimal point in numeric literal")
		}
		s.digits()
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.pos >= len(s.data) {
			return errUnexpectedEnd
		}
		if !isDigit(s.data[s.pos]) {
			return s.syntaxError("in exponent of numeric literal")
		}
		s.digits()
	}
	return nil
}

func (s *scanner) digits() {
	for s.pos < len(s.data) && isDigit(s.data[s.pos]) {
		s.pos++
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
