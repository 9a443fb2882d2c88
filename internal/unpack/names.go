package unpack

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// nestSep joins a container's path to the paths of its members:
// usr/share/java/x.jar!/META-INF/MANIFEST.MF.
const nestSep = "!/"

var (
	errAbsolutePath = errors.New("absolute path: refused (an extractor would write outside its directory)")
	errClimbingPath = errors.New(`path climbs out of the archive with "..": refused`)
	errEmptyName    = errors.New("member has an empty name")
	errNULInName    = errors.New("name holds a NUL byte: refused (an extractor would cut the name there, and write another file)")
	// A regular member named ".", "/" or "./" is refused aloud: it
	// vanished with exit 0 when taken for the root directory.
	errRootNamedFile = errors.New(`a file named as the archive's root (".", "/" or "./"): its bytes are not extracted, as no file can have that name`)
	errTooDeep       = fmt.Errorf("path is more than %d directories deep: refused (no real file tree is)", maxPathDepth)
)

// maxPathDepth bounds the directories of a member path: deep trees are a
// way to exhaust an extractor (thousands of mkdir, paths over PATH_MAX).
const maxPathDepth = 1024

// cleanName turns a member name as stored into the relative, cleaned,
// '/'-separated path a file record carries. A leading "./" (debs, rpms) is
// dropped; an absolute name or one that climbs out with ".." is refused,
// as hostile archives use them to write outside an extraction directory
// ("zip slip"). The root itself comes back as "".
func cleanName(name string) (string, error) {
	if name == "" {
		return "", errEmptyName
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errNULInName
	}
	if strings.Count(name, "/") > maxPathDepth {
		return "", errTooDeep
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
