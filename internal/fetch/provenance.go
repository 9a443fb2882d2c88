package fetch

import (
	"fmt"
	"os"

	"github.com/hashr-dev/hashr/internal/identity"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/sourcesig"
	"github.com/hashr-dev/hashr/pkg/records"
)

// provenance is what hashr-fetch adds to a source once it holds all its
// bytes, which hashr-scan (reading a source's first bytes) could not: the
// package of a remote source, or of a compressed image tar, and the
// verdict on a downloaded file's own signature. The code is scan's:
// internal/identity and internal/verify/sourcesig.
type provenance struct {
	mode verify.Mode        // --verify
	sigs *sourcesig.Checker // --keyring, --roots; nil checks nothing
}

// downloadSchemes are the URI schemes whose sources hashr-fetch
// downloads as one file, and so verifies: a registry image (oci://) is a
// layout of many, and keeps scan's verdict.
var downloadSchemes = map[string]bool{"http": true, "https": true, "s3": true, "gs": true}

// add names src from its local bytes when it has no package, and
// verifies a downloaded one. A failed verification (a verify.Refusal)
// removes the download, so that no stage reads it and no later run
// reuses it.
func (p *provenance) add(src *records.Source, scheme string) error {
	if src.Package == nil {
		src.Package = identifyLocal(src.Local, src.Format)
	}
	if !downloadSchemes[scheme] {
		return nil
	}
	err := p.verify(src)
	if err != nil {
		os.Remove(src.Local)
	}
	return err
}

// identifyLocal names the source in the regular file path, nil when it
// is something else (an OCI layout directory, named by scan) or names
// no package.
func identifyLocal(path, format string) *records.Package {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return identity.File(f, fi.Size(), format)
}

// verify gives a downloaded source the verdict of its own signature,
// with hashr-scan's --verify semantics. A verdict hashr-scan gave from a
// signed index (apt-release, yum-repomd) is kept: hashr-fetch has
// already held the bytes to that index's digest.
func (p *provenance) verify(src *records.Source) error {
	if p.sigs == nil || p.mode == verify.Off || src.Verified != nil && src.Verified.By != "none" {
		return nil
	}
	res, err := p.sigs.Check(src.Local, src.Format, src.URI)
	if err != nil {
		return err
	}
	if res == nil {
		res = src.Verified // scan's "none", with its reason
	}
	if res == nil {
		res = &verify.Result{By: "none", Detail: fmt.Sprintf("nothing signs this remote %s source that hashr-fetch can check", src.Format)}
	}
	if err := p.mode.Judge(res, src.Format); err != nil {
		return err
	}
	src.Verified = res
	return nil
}
