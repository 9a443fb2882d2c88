package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Every message on stderr is made of a format written here and of
// arguments that may come from the input: member names, paths, a child's
// messages. A name holding an ESC sequence, a CR or a LF must not reach a
// terminal raw, where it would retitle the window, rewrite the screen or
// forge a "hashr-x: ..." line of its own; so each argument is escaped
// once formatted, while the format's own newlines still break lines.

// escapeArgs wraps the arguments that can hold text in escaped, leaving
// numbers as they are (fmt needs an int for a '*' width).
func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch a.(type) {
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
			float32, float64, bool, nil:
			out[i] = a
		default:
			out[i] = escaped{a}
		}
	}
	return out
}

// escaped formats its value with the verb and flags it is given, then
// escapes what came out.
type escaped struct{ v any }

func (e escaped) Format(f fmt.State, verb rune) {
	if err, ok := e.v.(error); ok && (verb == 'v' || verb == 's') {
		io.WriteString(f, escapeError(err))
		return
	}
	s := fmt.Sprintf(fmt.FormatString(f, verb), e.v)
	if verb != 'q' { // %q escapes already
		s = EscapeControls(s)
	}
	io.WriteString(f, s)
}

// escapeError keeps the newlines between the errors of errors.Join, one
// per line as they are meant to be read, and escapes the rest.
func escapeError(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var msgs, parts []string
		for _, e := range j.Unwrap() {
			if e != nil {
				msgs, parts = append(msgs, e.Error()), append(parts, escapeError(e))
			}
		}
		if strings.Join(msgs, "\n") == err.Error() { // errors.Join's, not fmt.Errorf's
			return strings.Join(parts, "\n")
		}
	}
	return EscapeControls(err.Error())
}

// EscapeControls returns s with what a terminal would act on written out
// instead: control characters as \n, \r, \t or \xNN (\u0085 for a C1
// control), bytes that are not UTF-8 as \xNN, and the invisible format
// characters that reorder or hide text (bidirectional overrides, zero-width
// joiners) as \uNNNN. Printable text, in any script, is kept as it is.
func EscapeControls(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return !isPlainUTF8(s[i:])
		}
	}
	return false
}

// isPlainUTF8 says whether s is valid UTF-8 with nothing EscapeControls
// would change.
func isPlainUTF8(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return utf8.ValidString(s)
}
