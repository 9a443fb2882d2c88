package identity

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/rpm"
	"github.com/hashr-dev/hashr/internal/formats/rpmrepo"
	"github.com/hashr-dev/hashr/pkg/records"
)

// RPM header tags of a package's identity.
const (
	tagName         = 1000
	tagVersion      = 1001
	tagRelease      = 1002
	tagEpoch        = 1003
	tagSummary      = 1004
	tagDistribution = 1010
	tagVendor       = 1011
	tagOS           = 1021
	tagArch         = 1022
)

// RPM names the RPM package r from its header: name, [epoch:]version-
// release, arch, vendor and summary (as title), as `rpm -qp` prints
// them; an epoch of 0, which rpm takes for none, is left out, as the
// repository indexes write it for none. Its os is the DISTRIBUTION tag
// ("Rocky Linux 9.3"), else the OS tag ("linux"), as `rpm -qp --qf
// '%{DISTRIBUTION} %{OS}'` prints them. Only the lead and headers are
// read.
func RPM(r io.Reader) (*records.Package, error) {
	h, err := rpm.ReadSigned(r)
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	str := func(tag uint32) string {
		v, _, err := h.HeaderStrings(tag)
		if err != nil || len(v) == 0 {
			return ""
		}
		return v[0]
	}
	version := str(tagVersion)
	if rel := str(tagRelease); rel != "" {
		version += "-" + rel
	}
	if epoch, ok, err := h.HeaderInts(tagEpoch); ok && err == nil && len(epoch) > 0 {
		version = withEpoch(strconv.FormatInt(epoch[0], 10), version)
	}
	p := clean(records.Package{Name: str(tagName), Version: version, Arch: str(tagArch),
		Vendor: str(tagVendor), Title: str(tagSummary), OS: firstOf(str(tagDistribution), str(tagOS))})
	if p == nil {
		return nil, fmt.Errorf("header: %w", ErrNoName)
	}
	return p, nil
}

// firstOf is the first of values that is not blank.
func firstOf(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// YumEntry names an RPM from its entry in a yum/dnf repository's primary
// index, the same fields RPM reads from the package's header.
func YumEntry(e rpmrepo.Package) *records.Package {
	version := e.Version
	if e.Release != "" {
		version += "-" + e.Release
	}
	return clean(records.Package{Name: e.Name, Version: withEpoch(e.Epoch, version), Arch: e.Arch,
		Vendor: e.Vendor, Title: e.Summary})
}

// withEpoch puts a non-zero epoch before version.
func withEpoch(epoch, version string) string {
	if epoch == "" || epoch == "0" {
		return version
	}
	return epoch + ":" + version
}
