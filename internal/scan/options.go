package scan

import (
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/magic"
)

// defaultZipExts is HashR's default for its zip importer's extensions.
const defaultZipExts = "zip,whl,jar,egg"

// options is a validated hashr-scan command line.
type options struct {
	repo    string          // "" means the default repo for each format
	formats map[string]bool // nil means every format
	zipExts map[string]bool // lower case, without the dot
	jobs    *jobFilter      // --db and --reprocess; nil skips nothing
	// splitImages: a source per image of a WIM or install ISO.
	splitImages bool
	// plan: a plan record before the sources (plan.go).
	plan bool

	net *remoteNet // registries, buckets and URLs, within --max-time

	verify *verifiers // --verify and --keyring; nil checks nothing
}

func newOptions(repo, formats, zipExts string) (options, error) {
	opts := options{repo: strings.TrimSpace(repo), zipExts: map[string]bool{}, net: newRemoteNet(defaultMaxTime)}
	for _, name := range splitList(formats) {
		if !magic.IsFormat(name) {
			return options{}, cli.Usagef("unknown format %q in --formats; valid formats: %s", name, formatList)
		}
		if opts.formats == nil {
			opts.formats = map[string]bool{}
		}
		opts.formats[name] = true
	}
	for _, ext := range splitList(zipExts) {
		opts.zipExts[strings.TrimPrefix(ext, ".")] = true
	}
	return opts, nil
}

// splitList splits a comma-separated flag value into trimmed, lower-case,
// non-empty items.
func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.ToLower(strings.TrimSpace(item)); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// repoFor returns the repo name of a source of the given format: --repo if
// given, else the name of HashR's importer for the format.
func (o options) repoFor(format string) string {
	if o.repo != "" {
		return o.repo
	}
	return defaultRepo(format)
}

func defaultRepo(format string) string {
	switch format {
	case magic.Tar:
		return "targz"
	case magic.WIM:
		return "windows"
	case magic.Cab, magic.MSI:
		return "wsus"
	case magic.DockerArchive, magic.OCI:
		return "container"
	case magic.Disk, magic.QCOW2, magic.VMDK, magic.VHD, magic.VHDX, magic.Squashfs:
		return "disk"
	}
	return format // deb, rpm, zip, iso9660 and the formats HashR has no importer for
}

// zipExtAllowed reports whether a zip file's name has one of --zip-exts.
func (o options) zipExtAllowed(name string) bool {
	dot := strings.LastIndexByte(name, '.')
	return dot >= 0 && o.zipExts[strings.ToLower(name[dot+1:])]
}

// wants reports whether --formats lets a format through.
func (o options) wants(format string) bool {
	return o.formats == nil || o.formats[format]
}
