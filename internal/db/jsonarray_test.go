package db

import (
	"database/sql"
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"
)

// TestDecodeArrayReadsAsEncodingJSON checks the plain-string fast path
// against encoding/json: the same strings, or the same refusal, for
// arrays it reads itself and for those it leaves to encoding/json.
func TestDecodeArrayReadsAsEncodingJSON(t *testing.T) {
	for _, text := range []string{
		`[]`, `["a"]`, `["usr/share/man/man1/ls.1.gz","b c"]`, `[""]`, `["",""]`, `["a",""]`,
		`["ünïcode/päth"]`, `["a\"b"]`, `["a\\b","c"]`, `["\u00e9"]`, `["tab\there"]`,
		`[ "a" ]`, `["a", "b"]`, `["a",]`, `["a"`, `[1]`, `["a"1]`, `["a""b"]`, `null`, `{}`,
		"[\"bad \xff utf-8\"]", "[\"ctl \x01\"]", `["<&>"]`, `["a","b","c","d","e"]`,
	} {
		var want []string
		wantErr := json.Unmarshal([]byte(text), &want)
		var got []string
		gotErr := decodeArray(sql.NullString{String: text, Valid: true}, &got)
		if (gotErr != nil) != (wantErr != nil) || !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("decodeArray(%q) = %q, %v; encoding/json reads %q, %v", text, got, gotErr, want, wantErr)
		}
	}
}

// TestPlainStringsTakesLoadersArrays checks that the arrays hashr-load
// writes take the fast path.
func TestPlainStringsTakesLoadersArrays(t *testing.T) {
	for _, list := range [][]string{{}, {"a"}, {"usr/lib/x.so", "usr/lib/y.so"}, {"päth"}} {
		text, _ := json.Marshal(list)
		got, ok := plainStrings(string(text))
		if !ok || !slices.Equal(got, list) {
			t.Errorf("plainStrings(%s) = %q, %v; want %q, true", text, got, ok, list)
		}
	}
}

// plainJSON passes eight bytes at a time: each byte, at every place of
// a word and of the bytes after, is judged as one at a time.
func TestPlainJSONEveryByteEveryPlace(t *testing.T) {
	oneByOne := func(text string) bool {
		for i := 0; i < len(text); i++ {
			if text[i] < 0x20 || text[i] == '\\' {
				return false
			}
		}
		return utf8.ValidString(text)
	}
	for c := range 256 {
		for at := range 19 {
			b := []byte("0123456789abcdefghi")
			b[at] = byte(c)
			for _, text := range []string{string(b), string(b[:at+1]), "\u00e9" + string(b)} {
				if got, want := plainJSON(text), oneByOne(text); got != want {
					t.Errorf("plainJSON(%q) = %v, want %v", text, got, want)
				}
			}
		}
	}
}
