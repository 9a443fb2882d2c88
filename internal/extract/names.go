package extract

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"
)

// nestSep joins a container's path to the paths of its members:
// usr/share/java/x.jar!/META-INF/MANIFEST.MF.
const nestSep = "!/"

var (
	errAbsolutePath = errors.New("absolute path: refused (an extractor would write outside its directory)")
	errClimbingPath = errors.New(`path climbs out of the archive with "..": refused`)
	errEmptyName    = errors.New("member has an empty name")
)

// cleanName turns a member name as stored into the relative, cleaned,
// '/'-separated path a file record carries. A leading "./" (debs, rpms) is
// dropped; an absolute name or one that climbs out with ".." is refused,
// as hostile archives use them to write outside an extraction directory
// ("zip slip"). The root itself comes back as "".
func cleanName(name string) (string, error) {
	if name == "" {
		return "", errEmptyName
	}
	if strings.HasPrefix(name, "/") {
		rest := strings.TrimLeft(name, "/")
		if rest == "" || rest == "." {
			return "", nil // the root directory
		}
		return "", errAbsolutePath
	}
	clean := path.Clean(name)
	switch {
	case clean == ".":
		return "", nil
	case clean == ".." || strings.HasPrefix(clean, "../"):
		return "", errClimbingPath
	}
	return clean, nil
}

// displayPath is a name fit for an error record when cleanName refused it.
func displayPath(prefix, name string) string {
	return strings.ToValidUTF8(prefix+name, "\uFFFD")
}

// recordPath returns the path field for raw path bytes, and the path_raw
// field when they are not valid UTF-8.
func recordPath(raw string) (p, pathRaw string) {
	if utf8.ValidString(raw) {
		return raw, ""
	}
	return strings.ToValidUTF8(raw, "\uFFFD"), base64.StdEncoding.EncodeToString([]byte(raw))
}

// modeString formats permission bits with setuid, setgid and sticky as the
// octal digits records carry ("0755", "4755").
func modeString(m fs.FileMode) string {
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

// parents yields the paths of the directories above p, shortest first:
// "a", "a/b" for "a/b/c".
func parents(p string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i < len(p); i++ {
			if p[i] == '/' && !yield(p[:i]) {
				return
			}
		}
	}
}

// unwrappedName is the name of the file inside a compressed single file:
// the name without its compression suffix ("x.gz" holds "x").
func unwrappedName(name string) string {
	base := path.Base(name)
	for _, suffix := range []string{".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".lz4", ".lzma", ".z", ".Z"} {
		if strings.HasSuffix(base, suffix) && len(base) > len(suffix) {
			trimmed := strings.TrimSuffix(base, suffix)
			switch suffix {
			case ".tgz", ".tbz2", ".txz":
				trimmed += ".tar"
			}
			return trimmed
		}
	}
	return base
}
