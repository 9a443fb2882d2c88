package yum

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/decompress"
)

// Package is one <package> entry of primary.xml: who an rpm is and what
// its bytes must be.
type Package struct {
	Name, Arch              string
	Epoch, Version, Release string
	Vendor                  string
	Checksum                Checksum // the whole rpm file's digest
	Size                    int64    // the rpm file's size
	Href                    string   // its path under the repository root
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

// primaryPackage is <package> as primary.xml writes it.
type primaryPackage struct {
	Type    string `xml:"type,attr"`
	Name    string `xml:"name"`
	Arch    string `xml:"arch"`
	Version struct {
		Epoch string `xml:"epoch,attr"`
		Ver   string `xml:"ver,attr"`
		Rel   string `xml:"rel,attr"`
	} `xml:"version"`
	Checksum Checksum `xml:"checksum"`
	Size     struct {
		Package int64 `xml:"package,attr"`
	} `xml:"size"`
	Location struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	Format struct {
		Vendor string `xml:"vendor"`
	} `xml:"format"`
}

// ParsePrimary reads an uncompressed primary.xml and calls fn with each
// package, streaming: a distribution's primary.xml is hundreds of MiB.
func ParsePrimary(r io.Reader, fn func(Package) error) error {
	d := xml.NewDecoder(r)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("parsing primary.xml: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local != "package" {
			continue
		}
		var pp primaryPackage
		if err := d.DecodeElement(&pp, &start); err != nil {
			return fmt.Errorf("parsing primary.xml: %w", err)
		}
		p, err := packageOf(pp)
		if err != nil {
			return fmt.Errorf("parsing primary.xml: %w", err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
}

func packageOf(pp primaryPackage) (Package, error) {
	p := Package{
		Name: strings.TrimSpace(pp.Name), Arch: strings.TrimSpace(pp.Arch),
		Epoch: pp.Version.Epoch, Version: pp.Version.Ver, Release: pp.Version.Rel,
		Vendor:   strings.TrimSpace(pp.Format.Vendor),
		Checksum: Checksum{Type: strings.ToLower(pp.Checksum.Type), Value: strings.ToLower(strings.TrimSpace(pp.Checksum.Value))},
		Size:     pp.Size.Package,
		Href:     cleanRel(pp.Location.Href),
	}
	if p.Name == "" || pp.Location.Href == "" {
		return p, fmt.Errorf("package %q: no name or location", p.Name)
	}
	if p.Href == "" {
		return p, fmt.Errorf("package %s: location %q leaves the repository", p.Name, pp.Location.Href)
	}
	if p.Size < 0 {
		return p, fmt.Errorf("package %s: negative size", p.Name)
	}
	return p, nil
}

// ReadPrimary reads the primary.xml that repomd lists from fsys, checks
// its bytes against repomd's size and checksum, and calls fn with each
// package.
func (r *Repomd) ReadPrimary(fsys fs.FS, fn func(Package) error) error {
	want, err := r.Primary()
	if err != nil {
		return err
	}
	href := cleanRel(want.Location.Href)
	if href == "" {
		return fmt.Errorf("repomd.xml: primary location %q leaves the repository", want.Location.Href)
	}
	data, err := readBounded(fsys, href, maxPrimary)
	if err != nil {
		return err
	}
	if err := checkData(data, want); err != nil {
		return err
	}
	method, ok := decompress.ForSuffix(path.Ext(href))
	if !ok || path.Ext(href) == ".xml" {
		method = decompress.None
	}
	rd, err := decompress.NewReader(method, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", href, err)
	}
	defer rd.Close()
	if err := ParsePrimary(rd, fn); err != nil {
		return fmt.Errorf("%s: %w", href, err)
	}
	return nil
}
