package scan

import (
	"errors"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/verify"
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

func newVerifiers(mode verify.Mode, keys openpgp.EntityList, auth *authVerifier) *verifiers {
	yum := newYumRepos(keys)
	return &verifiers{mode: mode, kinds: kindVerifiers(keys, auth, yum), yum: yum}
}

// kindVerifiers are the verifiers hashr-scan knows, the most specific
// first: an rpm in a signed yum repository is vouched for by the
// repository's index before its own header signature is read.
func kindVerifiers(keys openpgp.EntityList, auth *authVerifier, yum *yumRepos) []kindVerifier {
	return []kindVerifier{
		listedVerifier{},
		newAptVerifier(keys),
		yum,
		rpmVerifier{keys: keys},
		auth,
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
// refusal names the scheme that refused it).
func (v *verifiers) check(src *records.Source) error {
	if v == nil || v.mode == verify.Off {
		src.Verified = nil // a remote listing's, when off
		return nil
	}
	res, err := v.result(src)
	if err != nil {
		return err
	}
	if !res.OK && v.mode == verify.Require {
		return refuse(res.By, fmt.Errorf("--verify require: %s is not verified: %s (hint: --verify try records it as unverified)", src.Format, res.Detail))
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

// refusal is a kind verifier's "no": the scheme that refused a source
// (its verified.by), and why.
type refusal struct {
	by  string
	err error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// refuse says the scheme by refused a source for err.
func refuse(by string, err error) error { return &refusal{by: by, err: err} }

// refusedBy names the scheme that refused a source for err.
func refusedBy(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.by
	}
	return "none"
}
