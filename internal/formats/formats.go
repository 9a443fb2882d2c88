// Package formats is the table of the formats hashr reads: for each, its
// name (a source record's "format"), its one detector (used by hashr-scan
// through package magic and by hashr-extract alike, and by the disk
// reader on each volume), how its reader opens it, and the traits the
// walk needs. Adding a format is one entry here plus its reader in a
// package of its own below this one (see the README's development
// section); no other list names the formats.
//
// The readers do not import this package: the table imports them.
package formats

import (
	"context"
	"io"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/oci"
)

// Format is one entry of the table.
type Format struct {
	Name string
	// Detect validates a file's head as this format. nil: told by other
	// means (a docker archive and an OCI layout are tars that magic
	// classifies by their members).
	Detect func(*Head) bool
	// Order is when detection tries a source format: lowest first, the
	// first match wins (entries says why the order matters); 0 for a
	// format not detected on its own.
	Order int
	// OpenAt opens the format read at random (an io.ReaderAt: zip, disks,
	// Windows containers); OpenStream one read front to back (tar, deb).
	// One of the two is set for a format that is a source, neither for a
	// file system read only inside disk images.
	OpenAt     func(r io.ReaderAt, size int64, env *Env) (archive.Walker, error)
	OpenStream func(r io.Reader, env *Env) (archive.Walker, error)
	// Volume opens the file system in a disk image's volume (nil: the
	// format is no file system found in disk images).
	Volume func(r io.ReaderAt, size int64) (archive.Walker, error)

	// Expands: reading members decompresses them (zip, 7z, squashfs, a
	// disk's sparse holes), so their bytes count towards --max-ratio.
	Expands bool
	// HardLinks: the format has hard links (tar, cpio, file systems), so
	// regular files are remembered for links to them.
	HardLinks bool
	// Shared: read in Go from the one file handed over, running at most
	// a decoder on a pipe, so that a shared sandbox child may parse it
	// (disk images, Windows images and OCI layouts run programs on their
	// path or open directories).
	Shared bool
	// Wrapper: a source of this format whose only file is an archive or a
	// disk image is unwrapped whatever --max-depth says (a tar).
	Wrapper bool
	// Auto is what --max-depth auto walks inside it.
	Auto Auto
	// UpdatePart: walked inside a Windows update by --max-depth auto (a
	// nested cabinet, installer or WIM).
	UpdatePart bool
	// BareDisk: a file system that, filling a file by itself, makes the
	// file a disk image ("disk").
	BareDisk bool
}

// Auto is what --max-depth auto, the "depth by kind" default, walks
// inside a container of a format, as HashR's importers do.
type Auto int

const (
	// Members: nothing nested; the members are files, as HashR hashes a
	// jar inside a package.
	Members Auto = iota
	// Update: a Windows update (a cabinet, an MSI or MSP): every nested
	// UpdatePart, to the files.
	Update
	// UpdateWhenMSU: an Update when named .msu or inside an update (a
	// WIM: nothing in it tells an update from an install image but the
	// name Windows Update gives it).
	UpdateWhenMSU
	// InstallMedia: an install disc: its sources/install.wim or .esd.
	InstallMedia
)

// Env is what opening a format may need besides its bytes: the walk's
// context, limits and options.
type Env struct {
	Ctx     context.Context
	TempDir string // temporary files (a cabinet's fallback extraction)
	Path    string // the file's path, when it is a file of its own
	// Meter counts decompressed bytes and sparse holes (--max-ratio).
	Meter archive.Meter
	// MaxBytes is what the source may still unpack (--max-source-bytes).
	MaxBytes   int64
	DebControl bool        // a .deb's control members too
	Image      oci.Options // container images' options, Meter aside
	Verbosef   func(format string, args ...any)
	// Fallback is told when a UDF disc is read through its ISO 9660 tree,
	// which may hold fewer of its files.
	Fallback func(error)
}

// All is the table, file systems first, then the source formats in the
// order people read them.
func All() []Format { return table }

// Lookup returns the entry of the format name, or nil.
func Lookup(name string) *Format {
	for i := range table {
		if table[i].Name == name {
			return &table[i]
		}
	}
	return nil
}

// Names lists the formats a source can be of (those with a reader that
// opens them), in table order.
func Names() []string {
	var names []string
	for _, f := range table {
		if f.IsSource() {
			names = append(names, f.Name)
		}
	}
	return names
}

// IsSource says whether f can be a source: its reader opens it.
func (f *Format) IsSource() bool { return f.OpenAt != nil || f.OpenStream != nil }

// Detect returns the first source format whose detector accepts h, or nil.
func Detect(h *Head) *Format {
	for _, f := range byOrder {
		if f.Detect(h) {
			return f
		}
	}
	return nil
}

// Open opens a walker of the format on the size bytes of r. An entry
// read as a stream is read from r's start.
func (f *Format) Open(r io.ReaderAt, size int64, env *Env) (archive.Walker, error) {
	if f.OpenAt != nil {
		return f.OpenAt(r, size, env)
	}
	return f.OpenStream(io.NewSectionReader(r, 0, size), env)
}

// VolumeFormats are the file systems read in disk images' volumes, in
// the order they are tried.
func VolumeFormats() []*Format {
	var fss []*Format
	for i := range table {
		if table[i].Volume != nil {
			fss = append(fss, &table[i])
		}
	}
	return fss
}
