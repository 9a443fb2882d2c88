// Package yum reads a yum/dnf repository's metadata: repodata/repomd.xml
// (checked against its detached OpenPGP signature repomd.xml.asc), and
// primary.xml (checked against repomd's checksum), whose entries say what
// each rpm's name, version, arch, vendor, size and digest must be. It is
// the one parser of primary.xml: hashr-scan's verification and package
// identity both read it here.
package yum

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/verify"
)

// By names this scheme in a verify.Result.
const By = "yum-repomd"

// RepomdPath is repomd.xml's path under a repository's root.
const RepomdPath = "repodata/repomd.xml"

// maxRepomd bounds repomd.xml and its signature (Fedora's is 10 KiB).
const maxRepomd = 16 << 20

// maxPrimary bounds a compressed primary.xml read into memory (Fedora's
// Everything is about 20 MiB as .zst).
const maxPrimary = 1 << 30

// Checksum is a digest as repodata writes it: type (sha256, sha512…) and
// lowercase hex.
type Checksum struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

// Data is one <data> entry of repomd.xml: a metadata file and its digest.
type Data struct {
	Type     string   `xml:"type,attr"`
	Checksum Checksum `xml:"checksum"`
	Location struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	Size int64 `xml:"size"`
}

// Repomd is a repository's verified repomd.xml.
type Repomd struct {
	Data     []Data `xml:"data"`
	Verified verify.Result
}

// ParseRepomd reads repomd.xml's text.
func ParseRepomd(data []byte) (*Repomd, error) {
	var r Repomd
	if err := xml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parsing repomd.xml: %w", err)
	}
	return &r, nil
}

// Primary is the <data type="primary"> entry.
func (r *Repomd) Primary() (Data, error) {
	for _, d := range r.Data {
		if d.Type == "primary" {
			return d, nil
		}
	}
	return Data{}, errors.New("repomd.xml lists no primary metadata")
}

// ErrUnsigned says a repository has no repomd.xml.asc.
var ErrUnsigned = errors.New("the repository has no repodata/repomd.xml.asc: nothing signs it")

// ReadRepomd reads and verifies repodata/repomd.xml of the repository
// fsys against its detached signature repomd.xml.asc.
func ReadRepomd(fsys fs.FS, keys openpgp.EntityList) (*Repomd, error) {
	text, err := readBounded(fsys, RepomdPath, maxRepomd)
	if err != nil {
		return nil, err
	}
	sig, err := readBounded(fsys, RepomdPath+".asc", maxRepomd)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("verifying %s: %w", RepomdPath, ErrUnsigned)
	}
	if err != nil {
		return nil, err
	}
	fpr, err := verify.CheckPGP(keys, text, verify.Dearmor(sig))
	if err != nil {
		return nil, fmt.Errorf("verifying %s with repomd.xml.asc: %w", RepomdPath, err)
	}
	r, err := ParseRepomd(text)
	if err != nil {
		return nil, err
	}
	r.Verified = verify.Result{OK: true, By: By, Signer: fpr}
	return r, nil
}

// readBounded reads name from fsys, refusing more than max bytes.
func readBounded(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("reading %s: more than the %d bytes it may have", name, max)
	}
	return data, nil
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
func checkData(data []byte, want Data) error {
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

// cleanRel returns a repository-relative href, "" when it leaves the
// repository.
func cleanRel(href string) string {
	clean := path.Clean(href)
	if clean == ".." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) || strings.Contains(href, "://") {
		return ""
	}
	return clean
}
