package identity

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/deb"
	"github.com/hashr-dev/hashr/internal/verify/apt"
	"github.com/hashr-dev/hashr/pkg/records"
)

// maxControlFile bounds the control file read from a .deb: real ones are
// a few KiB; a longer one is read that far (its later fields lost).
const maxControlFile = 256 << 10

// ErrNoName is returned for a package whose metadata names nothing.
var ErrNoName = errors.New("its metadata has no package name")

// Deb names the .deb r from its control file: Package, Version,
// Architecture, Maintainer (as vendor) and the first line of Description
// (as title), as `dpkg-deb -f` prints them.
func Deb(r io.Reader) (*records.Package, error) {
	data, _, err := deb.ReadControlFile(r, maxControlFile)
	if err != nil {
		return nil, fmt.Errorf("reading the control file: %w", err)
	}
	fields, err := apt.ParseControlFile(data)
	if err != nil {
		return nil, fmt.Errorf("parsing the control file: %w", err)
	}
	p := clean(records.Package{Name: fields["Package"], Version: fields["Version"], Arch: fields["Architecture"],
		Vendor: fields["Maintainer"], Title: fields["Description"]})
	if p == nil {
		return nil, fmt.Errorf("control file: %w", ErrNoName)
	}
	return p, nil
}

// AptEntry names a .deb from its entry in a signed Packages index, the
// same fields Deb reads from the package itself, and its os from the
// Release of the suite whose index lists it (AptSuiteOS): a .deb alone
// says nothing of the distribution it was built for.
func AptEntry(e apt.Package, rel *apt.Release) *records.Package {
	p := records.Package{Name: e.Package, Version: e.Version, Arch: e.Architecture,
		Vendor: e.Maintainer, Title: e.Description}
	if rel != nil {
		p.OS = AptSuiteOS(rel.Origin, rel.Version, rel.Codename)
	}
	return clean(p)
}

// AptSuiteOS names the operating system an apt suite's Release says it
// is of: its Origin and Version ("Debian 12.5"), or Origin and Codename
// where there is no Version ("Debian trixie", as testing has none); ""
// when the Release says neither Version nor Codename.
func AptSuiteOS(origin, version, codename string) string {
	release := strings.TrimSpace(version)
	if release == "" {
		release = strings.TrimSpace(codename)
	}
	if release == "" {
		return ""
	}
	return strings.TrimSpace(strings.TrimSpace(origin) + " " + release)
}
