// Package identity names the software a source is from the source's own
// metadata, never its file name: a .deb's control file, an RPM's header,
// a WIM image's XML, a WSUS export line, an apt index entry, an OCI
// image's manifest. hashr-scan fills records.Source's package with it.
//
// Every value comes from untrusted bytes: fields are made valid UTF-8
// (U+FFFD for bad bytes), trimmed, and cut to maxField bytes, so a hostile
// package yields a truncated identity, never a crash or a huge record.
package identity

import (
	"strings"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/pkg/records"
)

// maxField bounds one field of a package identity: real names, versions
// and summaries are under a hundred bytes.
const maxField = 256

// field makes s fit a record: valid UTF-8, no surrounding blanks, its
// first line only, at most maxField bytes (cut on a character boundary).
func field(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if line, _, cut := strings.Cut(s, "\n"); cut {
		s = line
	}
	s = strings.TrimSpace(s)
	if len(s) <= maxField {
		return s
	}
	end := maxField
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end]
}

// clean applies field to each of p's fields; a package without a name is
// none (nil).
func clean(p records.Package) *records.Package {
	for _, f := range []*string{&p.Name, &p.Version, &p.Arch, &p.Vendor, &p.Edition, &p.KB, &p.Digest, &p.Title, &p.OS} {
		*f = field(*f)
	}
	if p.Name == "" {
		return nil
	}
	return &p
}
