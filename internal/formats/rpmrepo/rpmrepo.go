// Package rpmrepo reads a yum/dnf repository's metadata, as createrepo_c
// writes it: repodata/repomd.xml, which names the repository's indexes
// with their checksums, and the primary index it names
// (primary.xml, compressed or not), which lists each package: name,
// epoch, version, release, arch, vendor, summary, where it lies and its
// checksum. It is the one parser of these files, and RootOf the one rule
// for which repository a file belongs to: hashr-scan reads each
// repository once (internal/verify/yum) both to name its RPM sources and
// to verify them.
//
// encoding/xml parses both: it expands no entities beyond XML's five and
// reads no DTD, so a hostile index cannot make it allocate without bound;
// the primary index is decoded one package at a time.
package rpmrepo

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/decompress"
)

// MaxRepomd bounds repomd.xml and its signature (Fedora's is 10 KiB).
const MaxRepomd = 16 << 20

// Checksum is a digest as the metadata states it.
type Checksum struct {
	Type  string `xml:"type,attr"` // "sha256", "sha512", "sha1"…
	Value string `xml:",chardata"`
}

// Data is one index repomd.xml names.
type Data struct {
	Type         string   `xml:"type,attr"` // "primary", "filelists", "other"…
	Checksum     Checksum `xml:"checksum"`
	OpenChecksum Checksum `xml:"open-checksum"` // of the uncompressed index
	Location     struct {
		Href string `xml:"href,attr"` // relative to the repository root
	} `xml:"location"`
	Size int64 `xml:"size"`
}

// Repomd is repodata/repomd.xml.
type Repomd struct {
	Revision string `xml:"revision"`
	Data     []Data `xml:"data"`
}

// MetadataPath is where a repository keeps repomd.xml, relative to its
// root.
const MetadataPath = "repodata/repomd.xml"

// ParseRepomd parses repomd.xml.
func ParseRepomd(r io.Reader) (*Repomd, error) {
	var m Repomd
	if err := xml.NewDecoder(io.LimitReader(r, MaxRepomd)).Decode(&m); err != nil {
		return nil, fmt.Errorf("parsing repomd.xml: %w", err)
	}
	return &m, nil
}

// Index returns the index of type typ ("primary"), if repomd.xml names
// one.
func (m *Repomd) Index(typ string) (Data, bool) {
	for _, d := range m.Data {
		if d.Type == typ {
			return d, true
		}
	}
	return Data{}, false
}

// Package is one package of the primary index: who an rpm is and what
// its bytes must be.
type Package struct {
	Name, Arch              string
	Epoch, Version, Release string
	Summary, Vendor         string
	Checksum                Checksum // the whole .rpm's digest: type lower-case, value lower-case hex
	Size                    int64    // the .rpm's bytes
	Location                string   // the .rpm, relative to the repository root (CleanRel'd)
}

// EVR is the package's version as rpm prints it: [EPOCH:]VERSION-RELEASE,
// the epoch left out when it is 0 or absent.
func (p Package) EVR() string {
	v := p.Version + "-" + p.Release
	if p.Epoch != "" && p.Epoch != "0" {
		v = p.Epoch + ":" + v
	}
	return v
}

// CleanRel returns a repository-relative href, "" when it leaves the
// repository.
func CleanRel(href string) string {
	clean := path.Clean(href)
	if clean == ".." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) || strings.Contains(href, "://") {
		return ""
	}
	return clean
}

// xmlPackage is a <package> element of primary.xml.
type xmlPackage struct {
	Name    string `xml:"name"`
	Arch    string `xml:"arch"`
	Version struct {
		Epoch string `xml:"epoch,attr"`
		Ver   string `xml:"ver,attr"`
		Rel   string `xml:"rel,attr"`
	} `xml:"version"`
	Checksum Checksum `xml:"checksum"`
	Summary  string   `xml:"summary"`
	Size     struct {
		Package int64 `xml:"package,attr"`
	} `xml:"size"`
	Location struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	Format struct {
		Vendor string `xml:"http://linux.duke.edu/metadata/rpm vendor"`
	} `xml:"format"`
}

// ParsePrimary calls fn with each package of a primary index
// (uncompressed), in order.
func ParsePrimary(r io.Reader, fn func(Package) error) error {
	d := xml.NewDecoder(r)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("parsing the primary index: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local != "package" {
			continue
		}
		var x xmlPackage
		if err := d.DecodeElement(&x, &start); err != nil {
			return fmt.Errorf("parsing the primary index: %w", err)
		}
		p, err := x.pkg()
		if err != nil {
			return fmt.Errorf("parsing the primary index: %w", err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
}

// pkg checks an entry and returns it as a Package: a package with no
// name, a location outside the repository or a negative size is refused,
// since a verifier would then hold the wrong file to it.
func (x xmlPackage) pkg() (Package, error) {
	p := Package{Name: strings.TrimSpace(x.Name), Arch: strings.TrimSpace(x.Arch),
		Epoch: x.Version.Epoch, Version: x.Version.Ver, Release: x.Version.Rel,
		Summary: x.Summary, Vendor: strings.TrimSpace(x.Format.Vendor),
		Checksum: Checksum{Type: strings.ToLower(x.Checksum.Type), Value: strings.ToLower(strings.TrimSpace(x.Checksum.Value))},
		Size:     x.Size.Package, Location: CleanRel(x.Location.Href)}
	switch {
	case p.Name == "" || x.Location.Href == "":
		return p, fmt.Errorf("package %q: no name or location", p.Name)
	case p.Location == "":
		return p, fmt.Errorf("package %s: location %q leaves the repository", p.Name, x.Location.Href)
	case p.Size < 0:
		return p, fmt.Errorf("package %s: negative size", p.Name)
	}
	return p, nil
}

// ErrNoPrimary is returned for a repomd.xml that names no primary index.
var ErrNoPrimary = errors.New("repomd.xml names no primary index")

// IsRoot says whether dir is a repository's root: it holds
// repodata/repomd.xml.
func IsRoot(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(MetadataPath)))
	return err == nil
}

// RootOf finds the repository a file belongs to: the nearest directory,
// from the file's own up to top (the directory it was found under), that
// is a repository's root by isRoot (IsRoot, or a cache of it). A file
// outside top has only its own directory looked at. It is the one rule
// for which index names a package and which signature vouches for it.
func RootOf(file, top string, isRoot func(dir string) bool) (string, bool) {
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		if isRoot(dir) {
			return dir, true
		}
		if dir == top || !within(dir, top) || dir == filepath.Dir(dir) {
			return "", false
		}
	}
}

// within says whether dir is top or below it (not merely a name that
// starts the same: /srv/repo2 is not within /srv/repo).
func within(dir, top string) bool {
	rel, err := filepath.Rel(top, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// ParseCompressed parses a primary index in whatever compression its
// bytes say.
func ParseCompressed(r io.Reader, fn func(Package) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(decompress.HeadSize)
	dr, err := decompress.NewReader(decompress.Detect(head), br)
	if err != nil {
		return fmt.Errorf("decompressing the primary index: %w", err)
	}
	defer dr.Close()
	return ParsePrimary(dr, fn)
}
