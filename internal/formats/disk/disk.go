// Package disk walks the files of a disk or VM image: it opens the
// virtual disk (raw, qcow2, VMDK, VHD, VHDX), finds its volumes
// (partitions, LVM2 logical volumes, or a bare file system), tells each
// volume's file system through the readers it is handed, and yields the
// files of them all, each path under its volume's name: p1/etc/passwd,
// lvm/vg0/root/etc/passwd, or etc/passwd for a bare file system.
package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/vdisk"
	"github.com/hashr-dev/hashr/internal/formats/volume"
)

// FileSystem is a reader of one kind of file system.
type FileSystem struct {
	Name string
	// Probe is a cheap check of the file system's superblock.
	Probe func(r io.ReaderAt, size int64) bool
	// NewWalker opens the file system. A walker that can tell its
	// variant better than Name (ext2, ext3 or ext4) says so with a
	// FileSystem() string method.
	NewWalker func(r io.ReaderAt, size int64) (archive.Walker, error)
}

// probe returns the file system in r, or nil.
func probe(fss []FileSystem, r io.ReaderAt, size int64) *FileSystem {
	for i := range fss {
		if fss[i].Probe(r, size) {
			return &fss[i]
		}
	}
	return nil
}

// Walker walks the files of every volume of a disk image.
type Walker struct {
	disk   *vdisk.Disk
	vols   []volume.Volume
	next   int
	cur    archive.Walker
	vol    *volume.Volume
	fsName string
	layout []string
	fss    []FileSystem
}

// NewWalker opens the disk image in r (size bytes), reading its volumes
// with the file systems fss, tried in order (package formats' table
// hands them in). An error means the image as a whole cannot be read; a
// volume that cannot be is a *archive.PartError from Next.
func NewWalker(r io.ReaderAt, size int64, fss []FileSystem) (archive.Walker, error) {
	d, err := vdisk.Open(r, size)
	if err != nil {
		return nil, err
	}
	isFS := func(r io.ReaderAt, size int64) bool { return probe(fss, r, size) != nil }
	vols, err := volume.Find(d, d.Size, isFS)
	if err != nil {
		return nil, fmt.Errorf("%s disk: %w", d.Format, err)
	}
	w := &Walker{disk: d, vols: vols, fss: fss}
	w.layout = append(w.layout, fmt.Sprintf("%s disk of %d bytes", d.Format, d.Size))
	return w, nil
}

// Describe says what the image holds, for --verbose: the virtual disk's
// format, and each volume with its file system, as the walk finds them.
func (w *Walker) Describe() string { return strings.Join(w.layout, "; ") }

// Next returns the next file of the image.
func (w *Walker) Next() (*archive.Entry, error) {
	for {
		if w.cur == nil {
			if w.next >= len(w.vols) {
				return nil, io.EOF
			}
			w.vol = &w.vols[w.next]
			w.next++
			if err := w.openVolume(); err != nil {
				return nil, &archive.PartError{Path: w.vol.Name, Err: err}
			}
			continue
		}
		e, err := w.cur.Next()
		if err == io.EOF {
			w.closeVolume()
			continue
		}
		var pe *archive.PartError
		if errors.As(err, &pe) {
			return nil, &archive.PartError{Path: w.prefixed(pe.Path), Err: fmt.Errorf("%s: %w", w.fsName, pe.Err)}
		}
		if err != nil {
			name := w.vol.Name
			w.closeVolume()
			return nil, &archive.PartError{Path: name, Err: fmt.Errorf("%s: %w", w.fsName, err)}
		}
		e.Name = w.prefixed(e.Name)
		if e.Type == archive.Hardlink {
			e.Linkname = w.prefixed(e.Linkname)
		}
		e.FS = w.fsName
		return e, nil
	}
}

func (w *Walker) prefixed(p string) string {
	if w.vol.Name == "" {
		return p
	}
	if p == "" {
		return w.vol.Name
	}
	return w.vol.Name + "/" + p
}

// openVolume finds the current volume's file system and opens it; nil
// with w.cur still nil skips a volume without files.
func (w *Walker) openVolume() error {
	v := w.vol
	label := v.Name
	if label == "" {
		label = "whole disk"
	}
	if v.Err != nil {
		w.layout = append(w.layout, label+": unreadable")
		return v.Err
	}
	if v.NoFiles {
		w.layout = append(w.layout, fmt.Sprintf("%s: type %s, no files", label, v.Type))
		return nil
	}
	fs := probe(w.fss, v.R, v.Size)
	if fs == nil {
		w.layout = append(w.layout, label+": unknown file system")
		if v.Scheme == "none" {
			return fmt.Errorf("the disk has no partition table hashr reads (GPT, MBR, LVM2) and no file system it reads (%s)%s", w.names(), zeroHint(v.R))
		}
		return fmt.Errorf("%s volume of %d bytes (type %s) holds no file system hashr reads (%s)%s",
			v.Scheme, v.Size, orNone(v.Type), w.names(), zeroHint(v.R))
	}
	fw, err := fs.NewWalker(v.R, v.Size)
	if err != nil {
		w.layout = append(w.layout, label+": "+fs.Name+", unreadable")
		return fmt.Errorf("opening its %s file system: %w", fs.Name, err)
	}
	w.fsName = fs.Name
	if k, ok := fw.(interface{ FileSystem() string }); ok {
		w.fsName = k.FileSystem()
	}
	desc := label + ": " + w.fsName
	if n, ok := fw.(interface{ Note() string }); ok && n.Note() != "" {
		desc += " (" + n.Note() + ")"
	}
	w.layout = append(w.layout, desc)
	w.cur = fw
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (w *Walker) names() string {
	var n []string
	for _, fs := range w.fss {
		n = append(n, fs.Name)
	}
	return strings.Join(n, ", ")
}

// zeroHint says when a volume's first bytes are all zeros: never
// formatted, or wiped.
func zeroHint(r io.ReaderAt) string {
	b := make([]byte, 64<<10)
	n, _ := r.ReadAt(b, 0)
	if n > 0 && bytes.Count(b[:n], []byte{0}) == n {
		return ": its first bytes are all zeros (never formatted, or wiped)"
	}
	return ""
}

func (w *Walker) closeVolume() {
	if w.cur != nil {
		archive.Close(w.cur)
	}
	w.cur = nil
}

// Open returns the current file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	return w.cur.Open()
}

// Close releases the current volume's reader.
func (w *Walker) Close() error {
	w.closeVolume()
	return nil
}
