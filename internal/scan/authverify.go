package scan

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/authenticode"
	"github.com/hashr-dev/hashr/pkg/records"
)

// authVerifier checks the Authenticode signature of what Microsoft signs
// as a whole, cabinets (WSUS .cab, and the .msu that is one), against
// --roots: the kind verifier of cabinets (verifiers.go).
type authVerifier struct {
	roots *x509.CertPool // nil: the signature is checked, its chain not
	now   func() time.Time
}

func newAuthVerifier(rootFiles []string) (*authVerifier, error) {
	v := &authVerifier{now: time.Now}
	if len(rootFiles) > 0 {
		roots, err := authenticode.LoadRoots(rootFiles...)
		if err != nil {
			return nil, fmt.Errorf("--roots: %w", err)
		}
		v.roots = roots
	}
	return v, nil
}

// check verifies src when it is a cabinet or a .msu; the other formats
// are left to the other verifiers (nil, nil). It reads the whole
// cabinet, on the goroutine that writes records. --verify require's
// rule for a result that is not ok (no --roots) is the dispatch's.
func (v *authVerifier) check(src *records.Source) (*verify.Result, error) {
	if !authenticodeFormat(src) {
		return nil, nil
	}
	res, err := v.verify(src)
	if err != nil {
		return nil, refuse(authenticode.By, fmt.Errorf("checking the Authenticode signature: %w", err))
	}
	return &res, nil
}

// authenticodeFormat says whether src is what Microsoft signs whole: a
// cabinet, or a .msu (a cabinet, or on recent Windows a WIM).
func authenticodeFormat(src *records.Source) bool {
	return src.Format == magic.Cab || strings.HasSuffix(strings.ToLower(src.URI), ".msu")
}

// verify checks a local cabinet's signature; a cabinet nothing signs,
// a WIM-based .msu and a remote source are "none", with the reason.
func (v *authVerifier) verify(src *records.Source) (verify.Result, error) {
	none := func(why string) (verify.Result, error) { return verify.Result{By: "none", Detail: why}, nil }
	switch {
	case src.Format != magic.Cab:
		return none(fmt.Sprintf("a %s-based .msu has no Authenticode signature of its own; its members' are checked by hashr-extract --verify-members", src.Format))
	case remoteScheme(src.URI) != "":
		return none("a remote cabinet: hashr-scan reads only its first bytes, so its signature is not checked")
	}
	f, err := os.Open(src.URI)
	if err != nil {
		return verify.Result{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return verify.Result{}, err
	}
	res, err := authenticode.VerifyCABAt(f, fi.Size(), v.roots, v.now())
	if errors.Is(err, authenticode.ErrUnsigned) {
		return none("the cabinet carries no Authenticode signature")
	}
	return res, err
}
