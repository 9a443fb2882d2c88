package wim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// ImageInfo is what the WIM's XML says of one image.
type ImageInfo struct {
	Index       int
	Name        string // "Windows 10 Pro"
	Description string
	DisplayName string
	Edition     string // EDITIONID, or else FLAGS: "Professional"
	TotalBytes  int64
	FileCount   int64
	// Windows says the XML has a WINDOWS element: the image is of
	// Windows (wimlib-imagex writes none for a directory it captures).
	Windows bool
	// Arch is WINDOWS/ARCH named as wimlib-imagex names it ("x86_64",
	// "ARM64"), Version WINDOWS/VERSION as MAJOR.MINOR.BUILD.SPBUILD;
	// both "" when the XML does not say.
	Arch    string
	Version string
	// ProductName is WINDOWS/PRODUCTNAME ("Microsoft® Windows®
	// Operating System"), "" when the XML does not say.
	ProductName string
}

// Label names the image for people and for file records' "image" field:
// its name with its edition when that adds something, e.g.
// "Windows 10 Pro (Professional)".
func (i ImageInfo) Label() string {
	name := i.Name
	if name == "" {
		name = i.DisplayName
	}
	switch {
	case name == "" && i.Edition == "":
		return ""
	case name == "":
		return i.Edition
	case i.Edition == "" || strings.Contains(name, i.Edition):
		return name
	}
	return name + " (" + i.Edition + ")"
}

type xmlWIM struct {
	Images []struct {
		Index       string      `xml:"INDEX,attr"`
		Name        string      `xml:"NAME"`
		Description string      `xml:"DESCRIPTION"`
		DisplayName string      `xml:"DISPLAYNAME"`
		Flags       string      `xml:"FLAGS"`
		TotalBytes  string      `xml:"TOTALBYTES"`
		FileCount   string      `xml:"FILECOUNT"`
		Windows     *xmlWindows `xml:"WINDOWS"`
	} `xml:"IMAGE"`
}

type xmlWindows struct {
	EditionID   string `xml:"EDITIONID"`
	Arch        string `xml:"ARCH"`
	ProductName string `xml:"PRODUCTNAME"`
	Version     *struct {
		Major   string `xml:"MAJOR"`
		Minor   string `xml:"MINOR"`
		Build   string `xml:"BUILD"`
		SPBuild string `xml:"SPBUILD"`
	} `xml:"VERSION"`
}

// archNames are the names wimlib-imagex gives WINDOWS/ARCH values (the
// PROCESSOR_ARCHITECTURE_* constants).
var archNames = map[string]string{"0": "x86", "5": "ARM", "6": "ia64", "9": "x86_64", "12": "ARM64"}

// describeWindows fills what the WINDOWS element says of an image.
func (info *ImageInfo) describeWindows(w *xmlWindows) {
	if w == nil {
		return
	}
	info.Windows = true
	info.Edition = strings.TrimSpace(w.EditionID)
	info.ProductName = strings.TrimSpace(w.ProductName)
	if arch := strings.TrimSpace(w.Arch); arch != "" {
		info.Arch = archNames[arch]
		if info.Arch == "" {
			info.Arch = "unknown"
		}
	}
	if v := w.Version; v != nil {
		parts := []string{v.Major, v.Minor, v.Build, v.SPBuild}
		for i, p := range parts {
			if parts[i] = strings.TrimSpace(p); parts[i] == "" {
				parts[i] = "0"
			}
		}
		info.Version = strings.Join(parts, ".")
	}
}

// parseXML fills images from the WIM's XML data (UTF-16LE with a BOM).
// Images the XML does not describe keep their index alone.
func parseXML(data []byte, images []ImageInfo) error {
	text := decodeUTF16(bytes.TrimPrefix(data, []byte{0xff, 0xfe}))
	var doc xmlWIM
	d := xml.NewDecoder(strings.NewReader(text))
	d.Strict = false
	if err := d.Decode(&doc); err != nil {
		return corrupt(-1, fmt.Sprintf("XML data: %v", err))
	}
	for _, im := range doc.Images {
		idx, err := strconv.Atoi(strings.TrimSpace(im.Index))
		if err != nil || idx < 1 || idx > len(images) {
			continue
		}
		info := &images[idx-1]
		info.Name = strings.TrimSpace(im.Name)
		info.Description = strings.TrimSpace(im.Description)
		info.DisplayName = strings.TrimSpace(im.DisplayName)
		info.describeWindows(im.Windows)
		if info.Edition == "" {
			info.Edition = strings.TrimSpace(im.Flags)
		}
		info.TotalBytes, _ = strconv.ParseInt(strings.TrimSpace(im.TotalBytes), 0, 64)
		info.FileCount, _ = strconv.ParseInt(strings.TrimSpace(im.FileCount), 0, 64)
	}
	return nil
}

// decodeUTF16 decodes little-endian UTF-16, unpaired surrogates as U+FFFD.
func decodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}
