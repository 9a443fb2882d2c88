package db

import (
	"database/sql"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/internal/swar"
)

// decodeArray reads a JSON array of strings (source IDs, paths) from a
// column; NULL or empty text leaves into as it is.
func decodeArray(s sql.NullString, into *[]string) error {
	if !s.Valid || s.String == "" {
		return nil
	}
	if plain, ok := plainStrings(s.String); ok {
		*into = plain
		return nil
	}
	return json.Unmarshal([]byte(s.String), into)
}

// plainStrings splits a JSON array of strings written without spaces and
// without escapes, as hashr-load and SQLite's json_array write paths and
// IDs: ["a","b"]. The strings share text's memory. ok is false for
// anything else (an escape, a control character, invalid UTF-8, another
// layout), which encoding/json reads instead: json.Unmarshal with its
// reflection was a tenth of hashr-lookup's lookups' CPU, one array per
// row.
func plainStrings(text string) (_ []string, ok bool) {
	if len(text) < 2 || text[0] != '[' || text[len(text)-1] != ']' || !plainJSON(text) {
		return nil, false
	}
	rest := text[1 : len(text)-1]
	out := make([]string, 0, strings.Count(rest, `","`)+1)
	for rest != "" {
		if rest[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return nil, false
		}
		out = append(out, rest[1:1+end])
		rest = rest[end+2:]
		if rest == "" {
			break
		}
		if rest[0] != ',' || len(rest) == 1 {
			return nil, false
		}
		rest = rest[1:]
	}
	return out, true
}

// plainJSON says whether text holds no backslash, no control character
// and only valid UTF-8: JSON whose strings read as their bytes.
func plainJSON(text string) bool {
	ascii := true
	i := 0
	// Eight bytes at a time while each is printable ASCII other than a
	// backslash, one at a time after: a path's bytes one by one were 3%
	// of hashr-serve's instructions for a bulk.
	for ; i+8 <= len(text); i += 8 {
		w := text[i : i+8]
		v := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if swar.NonASCII(v)|swar.Below(v, 0x20)|swar.Equal(v, '\\') != 0 {
			break
		}
	}
	for ; i < len(text); i++ {
		c := text[i]
		if c < 0x20 || c == '\\' {
			return false
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	return ascii || utf8.ValidString(text)
}
