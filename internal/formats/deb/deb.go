// Package deb walks Debian binary packages: an ar archive whose data.tar
// member (compressed with gzip, xz, zstd, bzip2, lzma or not at all) holds
// the files as installed, and whose control.tar member holds the
// maintainer scripts and md5sums.
package deb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/ar"
	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/decompress"
	"github.com/hashr-dev/hashr/internal/formats/tar"
)

// ControlPrefix starts the paths of control members, which are not
// installed files: control!/md5sums, control!/postinst.
const ControlPrefix = "control!/"

// Options says what to walk besides the installed files.
type Options struct {
	// Control also walks control.tar, under ControlPrefix.
	Control bool
	// Meter, when set, counts the decompressed bytes of the tar members.
	Meter archive.Meter
	// InProcess decodes in this process (decompress.NewSmallReader): for
	// reading the small control member alone.
	InProcess bool
}

// Walker walks the files of a .deb.
type Walker struct {
	ar      *ar.Walker
	opts    Options
	inner   *tar.Walker
	decoder io.ReadCloser
	prefix  string
	sawData bool
}

// NewWalker walks the .deb r.
func NewWalker(r io.Reader, opts Options) *Walker {
	return &Walker{ar: ar.NewWalker(r), opts: opts}
}

// Next implements archive.Walker.
func (w *Walker) Next() (*archive.Entry, error) {
	for {
		if w.inner != nil {
			e, err := w.inner.Next()
			if err == nil {
				if w.prefix != "" {
					e.Name = w.prefix + e.Name
					if e.Type == archive.Hardlink {
						e.Linkname = w.prefix + e.Linkname
					}
				}
				return e, nil
			}
			if err == io.EOF {
				err = archive.Drain(w.decoder)
			}
			w.closeInner()
			if err != nil {
				return nil, archive.Truncated("deb", -1, err)
			}
		}
		m, err := w.ar.Next()
		if err == io.EOF {
			if !w.sawData {
				return nil, archive.Corrupt("deb", -1, "no data.tar member")
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(m.Name, "data.tar"):
			if w.sawData {
				return nil, archive.Corrupt("deb", -1, "two data.tar members")
			}
			w.sawData = true
			if err := w.openInner(m.Name, ""); err != nil {
				return nil, err
			}
		case strings.HasPrefix(m.Name, "control.tar") && w.opts.Control:
			if err := w.openInner(m.Name, ControlPrefix); err != nil {
				return nil, err
			}
		}
	}
}

// openInner starts walking the tar in the current ar member.
func (w *Walker) openInner(name, prefix string) error {
	r, err := w.ar.Open()
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(decompress.HeadSize)
	method := decompress.Detect(head)
	if method == decompress.None {
		// lzma has no magic number; trust the name when it says lzma.
		suffix := name[strings.Index(name, ".tar")+len(".tar"):]
		if m, ok := decompress.ForSuffix(suffix); ok && m == decompress.LZMA {
			method = m
		}
	}
	newReader := decompress.NewReader
	if w.opts.InProcess {
		newReader = decompress.NewSmallReader
	}
	dr, err := newReader(method, br)
	var dict *decompress.DictTooLargeError
	if errors.As(err, &dict) {
		return fmt.Errorf("%s: %w", name, err) // a limit, not corruption
	}
	if err != nil {
		return archive.Corrupt("deb", -1, name+": "+err.Error())
	}
	metered := archive.Metered(dr, w.opts.Meter)
	w.decoder = readCloser{metered, dr}
	w.inner = tar.NewMeteredWalker(metered, w.opts.Meter)
	w.prefix = prefix
	return nil
}

func (w *Walker) closeInner() {
	if w.decoder != nil {
		_ = w.decoder.Close()
	}
	w.inner, w.decoder, w.prefix = nil, nil, ""
}

// Open implements archive.Walker.
func (w *Walker) Open() (io.Reader, error) {
	if w.inner == nil {
		return nil, archive.ErrNotRegular
	}
	return w.inner.Open()
}

// Close implements archive.Closer: it stops a decompressor still running.
func (w *Walker) Close() error {
	w.closeInner()
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
