package identity

import (
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/pkg/records"
)

// microsoft is the vendor of what the WIM XML says is Windows, and of
// WSUS updates.
const microsoft = "Microsoft Corporation"

// WIMImage names one image of a WIM from the WIM's XML: its NAME, its
// edition (EDITIONID, else FLAGS), its build as version
// (MAJOR.MINOR.BUILD.SPBUILD), its architecture and DISPLAYNAME (as
// title), as `wimlib-imagex info` prints them. The vendor is Microsoft,
// and the os its Product Name and version ("Microsoft® Windows®
// Operating System 10.0.22631.2861"; "Windows" where it names no
// product), only where the XML has a WINDOWS element. nil when the image
// has no name.
func WIMImage(info wim.ImageInfo) *records.Package {
	p := records.Package{Name: info.Name, Version: info.Version, Arch: info.Arch,
		Edition: info.Edition, Title: info.DisplayName}
	if info.Windows {
		p.Vendor = microsoft
		p.OS = strings.TrimSpace(firstOf(info.ProductName, "Windows") + " " + info.Version)
	}
	return clean(p)
}

// WSUS names an update of a WSUS repository from its export.csv line:
// its KB article (as name and kb, "KB" and digits) and its title; the
// title names it when it has no KB. Its product ("Windows 10"), where
// the line has one, is its os. nil when the line has neither KB nor
// title.
func WSUS(kb, title, product string) *records.Package {
	kb = strings.TrimSpace(kb)
	if kb != "" {
		kb = "KB" + strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(kb, "KB"), "kb"), " ")
	}
	name := kb
	if name == "" {
		name = title
	}
	return clean(records.Package{Name: name, KB: kb, Title: title, Vendor: microsoft, OS: product})
}
