// Package sourcesig checks the signature a source file carries itself,
// whoever lists it: an RPM's header and payload signatures (as rpm -K),
// a cabinet's or .msu's Authenticode signature. hashr-scan checks a
// local source with it; hashr-fetch a remote one once it holds its
// bytes, so both give a source the same verdict from the same code.
package sourcesig

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/authenticode"
	"github.com/hashr-dev/hashr/internal/verify/rpmsig"
)

// Checker checks sources against the keys and roots a user named.
type Checker struct {
	Keys  openpgp.EntityList // --keyring: rpm signatures
	Roots *x509.CertPool     // --roots: Authenticode chains; nil checks the signature, not its chain
	Now   func() time.Time   // the time a chain is checked at without a timestamp
}

// New loads --keyring and --roots files into a Checker.
func New(keyrings, roots []string) (*Checker, error) {
	keys, err := verify.LoadKeyrings(keyrings)
	if err != nil {
		return nil, err
	}
	c := &Checker{Keys: keys, Now: time.Now}
	if len(roots) > 0 {
		if c.Roots, err = authenticode.LoadRoots(roots...); err != nil {
			return nil, fmt.Errorf("--roots: %w", err)
		}
	}
	return c, nil
}

// Claims says whether a source of format, named uri, is of a kind that
// carries its own signature: an rpm, a cabinet, a .msu.
func Claims(format, uri string) bool {
	return format == magic.RPM || Authenticode(format, uri)
}

// Authenticode says whether a source is what Microsoft signs whole: a
// cabinet, or a .msu (a cabinet, or on recent Windows a WIM).
func Authenticode(format, uri string) bool {
	return format == magic.Cab || strings.HasSuffix(strings.ToLower(uri), ".msu")
}

// Check verifies the local file path, a source of format named uri. It
// returns nil, nil for a kind Claims does not claim; a Result, ok or
// "none" with the reason, for one it does; a verify.Refusal by the
// scheme checked when the signature or a digest it covers fails, or the
// file cannot be read.
func (c *Checker) Check(path, format, uri string) (*verify.Result, error) {
	switch {
	case format == magic.RPM:
		res, err := c.rpm(path)
		if err != nil {
			return nil, verify.Refuse(rpmsig.By, fmt.Errorf("verifying the rpm: %w", err))
		}
		return res, nil
	case Authenticode(format, uri):
		res, err := c.authenticode(path, format)
		if err != nil {
			return nil, verify.Refuse(authenticode.By, fmt.Errorf("checking the Authenticode signature: %w", err))
		}
		return res, nil
	}
	return nil, nil
}

func (c *Checker) rpm(path string) (*verify.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := rpmsig.Verify(f, c.Keys)
	if errors.Is(err, verify.ErrNoKeyring) {
		return none("the rpm is signed, but no --keyring was given to check it against"), nil
	}
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// authenticode checks a cabinet's signature; a cabinet nothing signs and
// a WIM-based .msu are "none", with the reason.
func (c *Checker) authenticode(path, format string) (*verify.Result, error) {
	if format != magic.Cab {
		return none(fmt.Sprintf("a %s-based .msu has no Authenticode signature of its own; its members' are checked by hashr-extract --verify-members", format)), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	res, err := authenticode.VerifyCABAt(f, fi.Size(), c.Roots, now())
	if errors.Is(err, authenticode.ErrUnsigned) {
		return none("the cabinet carries no Authenticode signature"), nil
	}
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func none(why string) *verify.Result { return &verify.Result{By: "none", Detail: why} }
