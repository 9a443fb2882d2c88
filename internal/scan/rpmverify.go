package scan

import (
	"errors"
	"fmt"
	"os"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/rpmsig"
	"github.com/hashr-dev/hashr/pkg/records"
)

// rpmVerifier checks a local rpm file's header and payload signatures
// against --keyring, as rpm -K does. Scan reads the whole file for it:
// the signature covers the header, the header the payload's digest. A
// remote rpm is not read whole by hashr-scan; it is vouched for when a
// signed yum repository lists it.
type rpmVerifier struct{ keys openpgp.EntityList }

func (v rpmVerifier) check(src *records.Source) (*verify.Result, error) {
	if src.Format != magic.RPM {
		return nil, nil
	}
	if remoteScheme(src.URI) != "" {
		return &verify.Result{By: "none", Detail: "a remote rpm's signature is not checked by hashr-scan, which reads only its first bytes (hint: scan the yum repository that lists it, or a local copy)"}, nil
	}
	f, err := os.Open(src.URI)
	if err != nil {
		return nil, refuse(rpmsig.By, fmt.Errorf("verifying the rpm: %w", err))
	}
	defer f.Close()
	res, err := rpmsig.Verify(f, v.keys)
	if errors.Is(err, verify.ErrNoKeyring) {
		return &verify.Result{By: "none", Detail: "the rpm is signed, but no --keyring was given to check it against"}, nil
	}
	if err != nil {
		return nil, refuse(rpmsig.By, fmt.Errorf("verifying the rpm: %w", err))
	}
	return &res, nil
}
