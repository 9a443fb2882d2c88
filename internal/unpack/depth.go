package unpack

import (
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats"
	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/internal/magic"
)

// Depth is --max-depth: which containers inside a source are walked.
// auto, the default, walks what a source of its kind is made of, as
// HashR's importers do, and no further (autoDescends): a user who does
// not know the flag still gets an update's files, not its cabinets. A
// number is an explicit override: that many levels below the source's
// members, whatever the kinds (0: the members alone).
type Depth struct {
	auto   bool
	levels int // without auto
}

// maxDepthLevels bounds --max-depth N, and the levels auto walks: past
// that, nesting is a hostile source's, not software's.
const maxDepthLevels = 64

// AutoDepth is --max-depth auto, the default.
var AutoDepth = Depth{auto: true}

func (d Depth) String() string {
	if d.auto {
		return "auto"
	}
	return strconv.Itoa(d.levels)
}

// Set parses "auto" or a number of levels, for the flag and
// HASHR_MAX_DEPTH.
func (d *Depth) Set(s string) error {
	if strings.TrimSpace(s) == "auto" {
		*d = AutoDepth
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > maxDepthLevels {
		return fmt.Errorf("%q is neither auto nor a number of levels from 0 to %d", s, maxDepthLevels)
	}
	*d = Depth{levels: n}
	return nil
}

// Type is how --help names the flag's value.
func (d Depth) Type() string { return "auto|N" }

// MarshalText and UnmarshalText carry the policy to a sandbox child
// (childJob) in the words of the flag.
func (d Depth) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Depth) UnmarshalText(b []byte) error { return d.Set(string(b)) }

// mayDescend says whether any member of c can be walked, before its
// content is looked at.
func (s *unpacker) mayDescend(c *container) bool {
	d := s.opts.MaxDepth
	if !d.auto {
		return c.depth < d.levels
	}
	return c.depth < maxDepthLevels && (s.updateContainer(c) || installMedia(c.format))
}

// descends says whether the member full of c, of the kind magic found
// (walkable), is walked as a container.
func (s *unpacker) descends(c *container, full string, kind magic.Result) bool {
	if !walkable(kind) || !s.mayDescend(c) {
		return false
	}
	if !s.opts.MaxDepth.auto {
		return true
	}
	return autoDescends(s.updateContainer(c), c.format, strings.TrimPrefix(full, c.prefix), kind)
}

// autoDescends is what --max-depth auto walks inside a container, by
// kind:
//   - Windows updates (a cabinet, a .msu, an MSI or MSP and their
//     cabinets): every nested cabinet, installer and WIM, to the files;
//   - install media (an ISO 9660 or UDF disc): its sources/install.wim or
//     .esd, every image of it (a WIM's images, like a disk image's
//     volumes, are the container's own members, walked at any depth);
//   - packages, archives, container layers and all else: nothing, their
//     members are files, as HashR hashes a jar inside a package.
//
// name is the member's path inside the container, update whether the
// container is a Windows update.
func autoDescends(update bool, format, name string, kind magic.Result) bool {
	switch {
	case kind.Compression != "":
		return false
	case update:
		// OLE too (UpdatePart): an MSI or MSP whose directory lies past
		// the head that magic sees of a member is told only as an OLE
		// compound file.
		return traits(kind.Format).UpdatePart
	case installMedia(format):
		return kind.Format == magic.WIM && wim.IsInstallImage(name)
	}
	return false
}

// updateContainer says whether c is a Windows update, whose nested
// cabinets auto walks: a cabinet, an MSI or MSP (or an OLE compound file,
// as magic often tells them), or a WIM in an update or named .msu (the
// WIM-based updates of Windows 11: nothing in a WIM tells an update from
// an install image but the name Windows Update gives it). The table's
// Auto trait says which.
func (s *unpacker) updateContainer(c *container) bool {
	switch traits(c.format).Auto {
	case formats.Update:
		return true
	case formats.UpdateWhenMSU:
		if s.inUpdate {
			return true
		}
		name := strings.TrimSuffix(c.prefix, nestSep)
		if name == "" {
			name = filepath.ToSlash(s.label)
		}
		return strings.EqualFold(path.Ext(name), ".msu")
	}
	return false
}

// enterUpdate marks, while a member of c is walked, that what it holds is
// an update's when c is one (a WIM in a .msu); the func it returns
// restores the mark.
func (s *unpacker) enterUpdate(c *container) func() {
	outer := s.inUpdate
	s.inUpdate = outer || s.updateContainer(c)
	return func() { s.inUpdate = outer }
}
