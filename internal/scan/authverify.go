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
// as a whole, cabinets (WSUS .cab, and the .msu that is one): --verify
// and --roots.
type authVerifier struct {
	mode  verify.Mode
	roots *x509.CertPool // nil: the signature is checked, its chain not
	now   func() time.Time
}

func newAuthVerifier(mode verify.Mode, rootFiles []string) (*authVerifier, error) {
	v := &authVerifier{mode: mode, now: time.Now}
	if len(rootFiles) > 0 {
		roots, err := authenticode.LoadRoots(rootFiles...)
		if err != nil {
			return nil, fmt.Errorf("--roots: %w", err)
		}
		v.roots = roots
	}
	return v, nil
}

// verifySource gives a source its `verified` field, or the error that
// makes it an error record: the Authenticode verifier for cabinets and
// .msu, the apt verifier for the rest.
func (s *scanRun) verifySource(src *records.Source) error {
	if applies, err := s.opts.auth.check(src); applies {
		return err
	}
	return s.opts.apt.check(src)
}

// check verifies src when it is a cabinet or a .msu (applies); the other
// formats are left to the other verifiers. It reads the whole cabinet,
// on the goroutine that writes records.
func (v *authVerifier) check(src *records.Source) (applies bool, err error) {
	if v == nil || v.mode == verify.Off || !authenticodeFormat(src) {
		return false, nil
	}
	res, err := v.verify(src)
	if err != nil {
		return true, fmt.Errorf("checking the Authenticode signature: %w", err)
	}
	if !res.OK && v.mode == verify.Require {
		return true, fmt.Errorf("--verify require: %s (hint: name the publisher's root certificates with --roots FILE, or use --verify try)", res.Detail)
	}
	src.Verified = &res
	return true, nil
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
