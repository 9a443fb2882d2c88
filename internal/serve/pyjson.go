package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// pythonJSON encodes v as CIRCL's server does (Flask-RESTX: Python's
// json.dumps with its defaults, then a newline): ", " and ": " between
// items, every non-ASCII character escaped as \uXXXX, "<", ">" and "&" as
// they are. Field order is the Go struct's. A client that compares bytes,
// or a replayed exchange, sees what it would see from hashlookup.
func pythonJSON(v any) ([]byte, error) {
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	in := bytes.TrimRight(compact.Bytes(), "\n")
	out := make([]byte, 0, len(in)+len(in)/8+1)
	inString := false
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case inString && c == '\\':
			out = append(out, in[i:i+2]...) // an escape: the pair as it is
			i += 2
			continue
		case c == '"':
			inString = !inString
		case inString && c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(in[i:])
			out = appendUnicodeEscape(out, r)
			i += size
			continue
		case !inString && (c == ',' || c == ':'):
			out = append(out, c, ' ')
			i++
			continue
		}
		out = append(out, c)
		i++
	}
	return append(out, '\n'), nil
}

// appendUnicodeEscape writes r as Python's ensure_ascii does: \uXXXX, or a
// surrogate pair above the Basic Multilingual Plane.
func appendUnicodeEscape(out []byte, r rune) []byte {
	if r > 0xFFFF {
		r -= 0x10000
		out = fmt.Appendf(out, `\u%04x`, 0xD800+(r>>10))
		r = 0xDC00 + (r & 0x3FF)
	}
	return fmt.Appendf(out, `\u%04x`, r)
}

// writeJSON sends v with the status code, as CIRCL's server would.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := pythonJSON(v)
	if err != nil {
		code = http.StatusInternalServerError
		body = []byte(`{"message": "encoding the response failed"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

// message is CIRCL's body for an error: {"message": ...}, and for a
// digest not found also the query.
type message struct {
	Message string `json:"message"`
	Query   string `json:"query,omitempty"`
}

func writeMessage(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, message{Message: msg})
}
