package scan

import (
	"fmt"

	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/sourcesig"
	"github.com/hashr-dev/hashr/pkg/records"
)

// kindVerifier checks the sources of one kind (apt mirror .debs, yum
// repository rpms, signed rpm files, Authenticode cabinets…). check
// returns nil, nil when src is not its kind, so the next one is asked;
// a Result (OK or By "none") when it is; an error when the source fails
// verification, which makes it an error record. It may set src.SHA256
// (a signed index's digest, which hashr-fetch then holds the bytes to).
// It runs on the goroutine that writes records, one source at a time.
type kindVerifier interface {
	check(src *records.Source) (*verify.Result, error)
}

// verifiers is --verify's dispatch: the kind verifiers in order, then
// "none" for a source none of them claims. It is the one place that
// applies --verify's mode, so no source is marked none before the
// verifier of its kind had its say.
type verifiers struct {
	mode  verify.Mode
	kinds []kindVerifier
	// yum reads each yum repository once, for verifying its rpms and
	// (scanRun.write) naming them, whatever the mode.
	yum *yumRepos
}

func newVerifiers(mode verify.Mode, own *sourcesig.Checker) *verifiers {
	yum := newYumRepos(own.Keys)
	return &verifiers{mode: mode, kinds: kindVerifiers(own, yum), yum: yum}
}

// kindVerifiers are the verifiers hashr-scan knows, the most specific
// first: an rpm in a signed yum repository is vouched for by the
// repository's index before its own header signature is read.
func kindVerifiers(own *sourcesig.Checker, yum *yumRepos) []kindVerifier {
	return []kindVerifier{
		listedVerifier{},
		newAptVerifier(own.Keys),
		yum,
		ownSignature{own},
	}
}

// yumRepos returns the yum repositories the verifiers read, or new ones
// when there are no verifiers.
func (v *verifiers) yumRepos() *yumRepos {
	if v == nil {
		return newYumRepos(nil)
	}
	return v.yum
}

// check sets src.Verified, or returns why the source is refused (a
// verify.Refusal, naming the scheme that refused it).
func (v *verifiers) check(src *records.Source) error {
	if v == nil || v.mode == verify.Off {
		src.Verified = nil // a remote listing's, when off
		return nil
	}
	if fetchVerifies(src) {
		return nil
	}
	res, err := v.result(src)
	if err != nil {
		return err
	}
	if err := v.mode.Judge(res, src.Format); err != nil {
		return err
	}
	src.Verified = res
	return nil
}

func (v *verifiers) result(src *records.Source) (*verify.Result, error) {
	for _, k := range v.kinds {
		res, err := k.check(src)
		if err != nil || res != nil {
			return res, err
		}
	}
	return &verify.Result{By: "none", Detail: noSignatureDetail(src)}, nil
}

// noSignatureDetail says why a source no verifier claims is unverified.
func noSignatureDetail(src *records.Source) string {
	if remoteScheme(src.URI) != "" {
		return fmt.Sprintf("nothing signs this remote %s source that hashr-scan can check", src.Format)
	}
	return fmt.Sprintf("nothing signs this %s source that hashr-scan can check", src.Format)
}

// listedVerifier keeps the result a remote listing gave a source (a
// remote apt mirror's packages, verified with their index).
type listedVerifier struct{}

func (listedVerifier) check(src *records.Source) (*verify.Result, error) {
	return src.Verified, nil
}

// fetchVerifies says whether a source is left without "verified" for
// hashr-fetch to check: a remote one, listed by no signed index, of a
// kind that signs itself (an rpm, a cabinet, a .msu). hashr-scan reads
// only its first bytes; hashr-fetch holds them all and checks them with
// the same code (internal/verify/sourcesig), under its own --verify.
func fetchVerifies(src *records.Source) bool {
	return src.Verified == nil && remoteScheme(src.URI) != "" && sourcesig.Claims(src.Format, src.URI)
}

// ownSignature checks the signature a local source carries itself: an
// rpm's header (as rpm -K; the whole file is read), a cabinet's or
// .msu's Authenticode signature.
type ownSignature struct{ c *sourcesig.Checker }

func (o ownSignature) check(src *records.Source) (*verify.Result, error) {
	if remoteScheme(src.URI) != "" {
		return nil, nil
	}
	return o.c.Check(src.URI, src.Format, src.URI)
}
