// Package archive is the one small interface every container reader under
// internal/formats implements, so hashr-extract walks a .deb, an RPM, a zip
// or an ISO image the same way: entry by entry, in the order the container
// stores them, reading each regular file's bytes as a stream.
package archive

import (
	"errors"
	"io"
	"io/fs"
	"strconv"
	"time"
)

// Type says what kind of thing an entry is.
type Type uint8

const (
	// Regular is a file with bytes.
	Regular Type = iota
	// Dir is a directory.
	Dir
	// Symlink is a symbolic link; Linkname is its target as stored.
	Symlink
	// Hardlink is another name for an earlier Regular entry of the same
	// container, named by Linkname; its bytes are that entry's.
	Hardlink
	// Other is a device, FIFO, socket or anything else without bytes.
	Other
)

func (t Type) String() string {
	switch t {
	case Regular:
		return "file"
	case Dir:
		return "directory"
	case Symlink:
		return "symlink"
	case Hardlink:
		return "hard link"
	}
	return "special file"
}

// Entry is one member of a container.
type Entry struct {
	// Name is the member's name as stored, with '/' separators. It is
	// untrusted: it may be absolute, climb out with "..", or not be UTF-8.
	Name string
	Type Type
	// Size is the length of a Regular entry's bytes, or -1 when the
	// container does not say before they are read.
	Size int64
	// Mode holds the permission bits with fs.ModeSetuid, fs.ModeSetgid and
	// fs.ModeSticky, when ModeKnown; some containers (zip made on DOS, ISO
	// without Rock Ridge) store none.
	Mode      fs.FileMode
	ModeKnown bool
	// ModTime is zero when the container stores no time.
	ModTime time.Time
	// Linkname is the target of a Symlink or Hardlink.
	Linkname string
	// FS is the file system an entry of a disk image lives on ("ext4",
	// "xfs"…), "" in other containers.
	FS string
	// System marks a file system's own bookkeeping (the ext journal,
	// NTFS's $MFT, $LogFile, $Secure, $Extend/…): real bytes, but not a
	// file of the image's software, so extract skips it unless asked for
	// system files (hashr-extract --system-files).
	System bool
	// Image names the image of a multi-image container (a WIM) the entry
	// belongs to: its name and edition, e.g. "Windows 10 Pro
	// (Professional)". Empty for other containers.
	Image string
}

// Walker walks a container's entries in stored order.
type Walker interface {
	// Next advances to the next entry and returns it, or io.EOF after the
	// last one. Any other error means the container itself is broken or
	// hostile and the walk cannot go on.
	Next() (*Entry, error)
	// Open returns the current Regular entry's bytes. They are valid until
	// the next call to Next. An error from Open, or from reading, concerns
	// this entry only (ErrEncrypted, ErrUnsupportedMethod, a bad checksum):
	// the caller reports it and calls Next, which says whether the walk can
	// go on.
	Open() (io.Reader, error)
}

// RandomAccess is implemented by walkers that can also read the current
// Regular entry at random (iso9660, udf: a WIM inside an install disc,
// whose tables are at its end, read in place). The bytes are valid until
// the next call to Next.
type RandomAccess interface {
	OpenAt() (io.ReaderAt, int64, error)
}

// Closer is implemented by walkers that hold resources (a decompressor
// process, open member readers) to release when the walk ends early.
type Closer interface {
	Close() error
}

// Close releases w's resources if it holds any.
func Close(w Walker) error {
	if c, ok := w.(Closer); ok {
		return c.Close()
	}
	return nil
}

var (
	// ErrEncrypted is a member whose bytes are encrypted: reported, not
	// guessed at.
	ErrEncrypted = errors.New("member is encrypted")
	// ErrUnsupportedMethod is a member compressed with a method hashr
	// cannot decode.
	ErrUnsupportedMethod = errors.New("compression method not supported")
	// ErrNotRegular is returned by Open for an entry that has no bytes.
	ErrNotRegular = errors.New("not a regular file")
)

// PartError is returned by Next when one part of a container cannot be
// read (a damaged volume of a disk image, a directory of a file system
// whose blocks are garbage) but the rest can: the caller reports it for
// Path, inside the container, and calls Next again.
type PartError struct {
	Path string // "" for the container as a whole
	Err  error
}

func (e *PartError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *PartError) Unwrap() error { return e.Err }

// CorruptError says a container's structure is broken at some point.
type CorruptError struct {
	Format string // "tar", "cpio", …
	Offset int64  // -1 when unknown
	Reason string
}

func (e *CorruptError) Error() string {
	if e.Offset >= 0 {
		return e.Format + ": corrupt at byte " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
	}
	return e.Format + ": corrupt: " + e.Reason
}

// Corrupt returns a *CorruptError.
func Corrupt(format string, offset int64, reason string) error {
	return &CorruptError{Format: format, Offset: offset, Reason: reason}
}

// Truncated turns an unexpected end of input into a CorruptError that
// says so, and returns other errors unchanged.
func Truncated(format string, offset int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Corrupt(format, offset, "truncated")
	}
	return err
}

// UnixMode turns the low 12 bits of a Unix st_mode (permissions, setuid,
// setgid, sticky) into an fs.FileMode.
func UnixMode(mode uint64) fs.FileMode {
	m := fs.FileMode(mode) & fs.ModePerm
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// Meter is told of every byte a decompressor inside a format produces, so
// the caller can stop a decompression bomb where it expands rather than
// after. An error from Expand ends the read with that error.
type Meter interface {
	Expand(n int64) error
}

// Metered returns r counting its bytes on m; a nil m leaves r as it is.
func Metered(r io.Reader, m Meter) io.Reader {
	if m == nil {
		return r
	}
	return &meteredReader{r: r, m: m}
}

type meteredReader struct {
	r   io.Reader
	m   Meter
	err error
}

func (mr *meteredReader) Read(p []byte) (int, error) {
	if mr.err != nil {
		return 0, mr.err
	}
	n, err := mr.r.Read(p)
	if n > 0 {
		if merr := mr.m.Expand(int64(n)); merr != nil {
			mr.err = merr
			return n, merr
		}
	}
	return n, err
}

// DrainLimit is how much of a compressed stream Drain reads past the end
// of the archive inside it.
const DrainLimit = 1 << 20

// Drain reads what is left of a decompressed stream after the archive in
// it has ended (tar's padding to its record size, usually), so that the
// decompressor reaches its own end and checks its checksum and length: a
// truncated or corrupt tail is reported rather than missed. It reads at
// most DrainLimit bytes.
func Drain(r io.Reader) error {
	_, err := io.CopyN(io.Discard, r, DrainLimit)
	if err == io.EOF {
		return nil
	}
	return err
}
