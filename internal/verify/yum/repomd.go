// Package yum verifies a yum/dnf repository's metadata:
// repodata/repomd.xml against its detached OpenPGP signature
// repomd.xml.asc, then primary.xml against repomd's checksum, whose
// entries say what each rpm's name, version, arch, vendor, size and
// digest must be. Parsing both is package rpmrepo's, the one reader of
// them (hashr-scan's package identity reads it too); this package adds
// only the checks.
package yum

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/rpmrepo"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/verify"
)

// By names this scheme in a verify.Result.
const By = "yum-repomd"

// RepomdPath is repomd.xml's path under a repository's root.
const RepomdPath = rpmrepo.MetadataPath

// maxPrimary bounds a compressed primary.xml read into memory (Fedora's
// Everything is about 20 MiB as .zst).
const maxPrimary = 1 << 30

// Repomd is a repository's verified repomd.xml.
type Repomd struct {
	*rpmrepo.Repomd
	Verified verify.Result
}

// Primary is the <data type="primary"> entry.
func (r *Repomd) Primary() (rpmrepo.Data, error) {
	if d, ok := r.Index("primary"); ok {
		return d, nil
	}
	return rpmrepo.Data{}, rpmrepo.ErrNoPrimary
}

// ErrUnsigned says a repository has no repomd.xml.asc.
var ErrUnsigned = errors.New("the repository has no repodata/repomd.xml.asc: nothing signs it")

// ReadRepomd reads repodata/repomd.xml of the repository fsys and
// verifies it against its detached signature repomd.xml.asc. A
// repomd.xml that parses is returned even when it does not verify, with
// why beside it (ErrUnsigned, verify.ErrNoKeyring, a bad signature) and
// Verified zero: its primary index may still name the repository's
// packages, though it vouches for none of them.
func ReadRepomd(fsys fs.FS, keys openpgp.EntityList) (*Repomd, error) {
	text, err := verify.ReadBounded(fsys, RepomdPath, RepomdPath, rpmrepo.MaxRepomd)
	if err != nil {
		return nil, err
	}
	verified, verifyErr := checkRepomd(fsys, keys, text)
	md, err := rpmrepo.ParseRepomd(bytes.NewReader(text))
	if err != nil {
		return nil, cmp.Or(verifyErr, err)
	}
	return &Repomd{Repomd: md, Verified: verified}, verifyErr
}

// checkRepomd checks repomd.xml's text against repomd.xml.asc.
func checkRepomd(fsys fs.FS, keys openpgp.EntityList, text []byte) (verify.Result, error) {
	sig, err := verify.ReadBounded(fsys, RepomdPath+".asc", RepomdPath+".asc", rpmrepo.MaxRepomd)
	if errors.Is(err, fs.ErrNotExist) {
		return verify.Result{}, fmt.Errorf("verifying %s: %w", RepomdPath, ErrUnsigned)
	}
	if err != nil {
		return verify.Result{}, err
	}
	fpr, err := verify.CheckPGP(keys, text, verify.Dearmor(sig))
	if err != nil {
		return verify.Result{}, fmt.Errorf("verifying %s with repomd.xml.asc: %w", RepomdPath, err)
	}
	return verify.Result{OK: true, By: By, Signer: fpr}, nil
}

// ErrMismatch is wrapped by every digest or size that does not match.
var ErrMismatch = errors.New("does not match its signed repository metadata")

// newHash returns the hash a checksum type names; the weak ones (md5,
// sha1) are refused, as a signature over them vouches for nothing.
func newHash(typ string) (hash.Hash, error) {
	switch strings.ToLower(typ) {
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("checksum type %q is not trusted (hint: rebuild the repository with createrepo_c --checksum sha256)", typ)
}

// checkData checks data against a repomd entry's size and checksum.
func checkData(data []byte, want rpmrepo.Data) error {
	if want.Size > 0 && int64(len(data)) != want.Size {
		return fmt.Errorf("%s %w: %d bytes, repomd.xml says %d", want.Location.Href, ErrMismatch, len(data), want.Size)
	}
	h, err := newHash(want.Checksum.Type)
	if err != nil {
		return fmt.Errorf("%s: %w", want.Location.Href, err)
	}
	h.Write(data)
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(strings.TrimSpace(want.Checksum.Value)) {
		return fmt.Errorf("%s %w: %s %s, repomd.xml says %s", want.Location.Href, ErrMismatch, want.Checksum.Type, got, strings.TrimSpace(want.Checksum.Value))
	}
	return nil
}
