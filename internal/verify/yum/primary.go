package yum

import (
	"bytes"
	"fmt"
	"io/fs"

	"github.com/hashr-dev/hashr/internal/verify"

	"github.com/hashr-dev/hashr/internal/formats/rpmrepo"
)

// ReadPrimary reads the primary.xml that repomd lists from fsys, checks
// its bytes against repomd's size and checksum when repomd.xml verified
// (one that did not vouches for nothing, so its checksum is not held
// against the index, which then only names packages), and calls fn with
// each package.
func (r *Repomd) ReadPrimary(fsys fs.FS, fn func(rpmrepo.Package) error) error {
	want, err := r.Primary()
	if err != nil {
		return err
	}
	href := rpmrepo.CleanRel(want.Location.Href)
	if href == "" {
		return fmt.Errorf("repomd.xml: primary location %q leaves the repository", want.Location.Href)
	}
	data, err := verify.ReadBounded(fsys, href, href, maxPrimary)
	if err != nil {
		return err
	}
	if r.Verified.OK {
		if err := checkData(data, want); err != nil {
			return err
		}
	}
	if err := rpmrepo.ParseCompressed(bytes.NewReader(data), fn); err != nil {
		return fmt.Errorf("%s: %w", href, err)
	}
	return nil
}
