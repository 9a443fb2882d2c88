// Package apt verifies an apt repository the way apt does: the Release
// file's OpenPGP signature (InRelease, clearsigned, or Release with a
// detached Release.gpg) against the keyrings the user names, each
// Packages index against the SHA256 and size the Release lists, and each
// .deb against its Packages entry.
package apt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// maxStanzaLine bounds one line of a control file: a Release's SHA256
// field is many lines, never one long one; Description lines are short.
const maxStanzaLine = 1 << 20

// stanza is one paragraph of a deb822 control file. Continuation lines
// (starting with a space or tab) are kept, joined with "\n", without
// their leading blank.
type stanza map[string]string

// readStanzas calls fn for each paragraph of a deb822 control file.
func readStanzas(r io.Reader, fn func(stanza) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxStanzaLine)
	cur, last, lineNo := stanza{}, "", 0
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		err := fn(cur)
		cur, last = stanza{}, ""
		return err
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			if err := flush(); err != nil {
				return err
			}
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return fmt.Errorf("line %d: continuation line outside a field", lineNo)
			}
			cur[last] += "\n" + strings.TrimSpace(line)
		case line[0] == '#':
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" {
				return fmt.Errorf("line %d: %q is not a field", lineNo, truncate(line))
			}
			last = name
			cur[name] = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	return flush()
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// firstStanza parses a control file that holds one paragraph (a Release).
func firstStanza(data []byte) (stanza, error) {
	var first stanza
	err := readStanzas(bytes.NewReader(data), func(s stanza) error {
		if first == nil {
			first = s
		}
		return nil
	})
	if err == nil && first == nil {
		err = fmt.Errorf("no fields")
	}
	return first, err
}

// ParseControlFile returns the fields of a control file's first
// paragraph (a .deb's control file, which holds one): continuation lines
// joined to their field with "\n".
func ParseControlFile(data []byte) (map[string]string, error) {
	return firstStanza(data)
}
