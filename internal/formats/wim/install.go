package wim

import "strings"

// IsInstallImage says whether p, a cleaned path inside an install ISO,
// is where Windows setup takes its images from: sources/install.wim, or
// sources/install.esd (download media), in any case, as ISO 9660 names
// are often upper case. hashr-scan --split-images and hashr-extract both
// take the first such member in the ISO's walk order.
func IsInstallImage(p string) bool {
	p = strings.ToLower(p)
	return p == "sources/install.wim" || p == "sources/install.esd"
}
