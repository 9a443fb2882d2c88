package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestEscapeControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.txt":        "plain name.txt",
		"résumé 日本語.txt":        "résumé 日本語.txt",
		"a\x1b]0;pwned\x07b":    `a\x1b]0;pwned\x07b`,
		"line\nhashr-x: forged": `line\nhashr-x: forged`,
		"cr\roverwrite\ttab":    `cr\roverwrite\ttab`,
		"bad \xff\xfe utf8":     `bad \xff\xfe utf8`,
		"c1 \u009b31m del \x7f": `c1 \u009b31m del \x7f`,
		"bidi \u202egpj.exe":    `bidi \u202egpj.exe`,
	} {
		if got := EscapeControls(in); got != want {
			t.Errorf("EscapeControls(%q) = %q, want %q", in, got, want)
		}
	}
}

// Names reach stderr through every message function with their control
// characters escaped; the format's own newlines still break lines, and
// %q, numbers and widths work as before.
func TestMessagesEscapeArguments(t *testing.T) {
	var stderr bytes.Buffer
	p := New("hashr-x", strings.NewReader(""), &bytes.Buffer{}, &stderr)
	name := "a\x1b]0;pwned\x07\nhashr-x: forged"
	p.Failf("%s: member %q: %v", name, name, errors.New("bad\rname "+name))
	p.Warnf("%s", []byte(name))
	p.Infof("%*d|%-4s|", 3, 7, "\x1b")
	p.Hint("first\nsecond: %v", fmt.Errorf("wrapped: %w", errors.New("x\ny")))
	p.Errorf("%v", errors.Join(errors.New("one\x1b"), errors.New("two")))

	want := `hashr-x: error: a\x1b]0;pwned\x07\nhashr-x: forged: member "a\x1b]0;pwned\a\nhashr-x: forged": bad\rname a\x1b]0;pwned\x07\nhashr-x: forged
hashr-x: warning: a\x1b]0;pwned\x07\nhashr-x: forged
hashr-x:   7|\x1b   |
hashr-x: hint: first
hashr-x: hint: second: wrapped: x\ny
hashr-x: error: one\x1b
hashr-x: error: two
`
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	for _, c := range stderr.Bytes() {
		if c < 0x20 && c != '\n' {
			t.Fatalf("raw control byte 0x%02x on stderr", c)
		}
	}
}
