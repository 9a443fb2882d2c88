package records

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"strings"
	"unicode/utf8"
)

// PathFields returns a file record's path field for a name's exact bytes,
// and its path_raw field: the bytes in base64 when they are not valid
// UTF-8 (then path holds U+FFFD in their place), else "".
func PathFields(name string) (path, pathRaw string) {
	if utf8.ValidString(name) {
		return name, ""
	}
	return strings.ToValidUTF8(name, "\uFFFD"), base64.StdEncoding.EncodeToString([]byte(name))
}

// Mode formats permission bits, with setuid, setgid and sticky, as the
// octal digits file records carry, the way ls and stat show them: "0644",
// "4755".
func Mode(m fs.FileMode) string {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return fmt.Sprintf("%04o", bits)
}
