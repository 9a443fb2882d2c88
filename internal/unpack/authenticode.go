package unpack

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/verify/authenticode"
	"github.com/hashr-dev/hashr/pkg/records"
)

// peExts are the names of the PE members --verify-members checks: what
// Windows loads as code, and so what Microsoft signs.
var peExts = map[string]bool{".exe": true, ".dll": true, ".sys": true, ".efi": true, ".ocx": true, ".cpl": true, ".scr": true, ".drv": true}

// peVerifier starts the Authenticode check of the member full, when
// --verify-members asks and its name is a PE file's; else nil.
func (s *unpacker) peVerifier(full string) *authenticode.PEVerifier {
	if !s.opts.VerifyMembers || !peExts[strings.ToLower(path.Ext(full))] {
		return nil
	}
	return authenticode.NewPEVerifier()
}

// teePE has pe see the bytes read from r, when there is one.
func teePE(r io.Reader, pe *authenticode.PEVerifier) io.Reader {
	if pe == nil {
		return r
	}
	return io.TeeReader(r, pe)
}

// checkPE finishes the check pe made of the member full as it was
// copied: its record's verified field, or an error record when the
// signature does not match its bytes or chain to --roots.
func (s *unpacker) checkPE(f *records.File, full string, pe *authenticode.PEVerifier) {
	if pe == nil {
		return
	}
	res, err := pe.Verify(s.rootPool(), time.Now())
	switch {
	case errors.Is(err, authenticode.ErrUnsigned):
		f.Verified = &records.Verified{By: "none", Detail: "no embedded Authenticode signature (a Windows file may be signed by a catalog, which is not checked)"}
	case errors.Is(err, authenticode.ErrNotPE):
		f.Verified = &records.Verified{By: "none", Detail: err.Error()}
	case err != nil:
		s.memberError(displayPath("", full), fmt.Errorf("checking its Authenticode signature: %w", err))
	default:
		f.Verified = &res
	}
}

// rootPool is --roots parsed, once a walk; nil without --roots (the
// signature is checked, its chain not).
func (s *unpacker) rootPool() *x509.CertPool {
	if s.opts.Roots == "" {
		return nil
	}
	if s.roots == nil {
		s.roots = x509.NewCertPool()
		s.roots.AppendCertsFromPEM([]byte(s.opts.Roots))
	}
	return s.roots
}
