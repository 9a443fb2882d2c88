package extract

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/cab"
	"github.com/hashr-dev/hashr/internal/formats/ole"
	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/internal/magic"
)

// walkWIM walks every image of a WIM (install.wim, install.esd). What
// the Go reader does not decode (LZMS, the usual compression of ESDs) is
// first converted by wimlib-imagex into an uncompressed WIM in the
// temporary directory, and that is walked.
func (s *sourceRun) walkWIM(f io.ReaderAt, size int64, prefix string, depth int) error {
	w, err := wim.NewWalker(f, size)
	if errors.Is(err, wim.ErrNeedsWimlib) {
		conv, convSize, cerr := s.convertWIM(f, size, err)
		if cerr != nil {
			return cerr
		}
		defer func() { conv.Close(); os.Remove(conv.Name()) }()
		w, err = wim.NewWalker(conv, convSize)
	}
	if err != nil {
		return err
	}
	return s.walk(&container{w: w, format: magic.WIM, prefix: prefix, depth: depth, expands: true})
}

// convertWIM runs wimlib-imagex to rewrite the WIM in f uncompressed,
// and opens the result. why is what the Go reader could not decode.
func (s *sourceRun) convertWIM(f io.ReaderAt, size int64, why error) (*os.File, int64, error) {
	src := ""
	if of, ok := f.(*os.File); ok {
		src = of.Name()
	} else {
		tmp, _, err := s.tempCopy(io.NewSectionReader(f, 0, size))
		if err != nil {
			return nil, 0, err
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		src = tmp.Name()
	}
	dst, err := os.CreateTemp(s.x.tmpDir, "wim-*.wim")
	if err != nil {
		return nil, 0, fmt.Errorf("creating a temporary file: %w", err)
	}
	dst.Close()
	s.x.p.Verbosef("%s: %v: converting the WIM with %s export --compress=none", s.label, why, wim.WimlibTool)
	if err := wim.Convert(s.ctx, src, dst.Name()); err != nil {
		os.Remove(dst.Name())
		return nil, 0, err
	}
	out, err := os.Open(dst.Name())
	if err != nil {
		os.Remove(dst.Name())
		return nil, 0, err
	}
	st, err := out.Stat()
	if err == nil {
		// The converted file is disk the source uses, like a spooled member.
		err = s.budget.addBytes(st.Size())
	}
	if err != nil {
		out.Close()
		os.Remove(dst.Name())
		return nil, 0, err
	}
	return out, st.Size(), nil
}

// walkableWindows says whether format is one of the Windows containers
// read here.
func walkableWindows(format string) bool {
	switch format {
	case magic.WIM, magic.Cab, magic.MSI, magic.OLE:
		return true
	}
	return false
}

// walkWindows walks a Windows container read at random.
func (s *sourceRun) walkWindows(f io.ReaderAt, size int64, format, prefix string, depth int) error {
	switch format {
	case magic.WIM:
		return s.walkWIM(f, size, prefix, depth)
	case magic.Cab:
		opts := cab.Options{Ctx: s.ctx, TempDir: s.x.tmpDir, Meter: &s.budget,
			MaxBytes: s.x.opts.limits.sourceBytes - s.budget.bytes,
			Verbosef: func(format string, args ...any) { s.x.p.Verbosef(s.label+": "+format, args...) }}
		if of, ok := f.(*os.File); ok {
			opts.Path = of.Name()
		}
		w, err := cab.NewWalker(f, size, opts)
		if err != nil {
			return err
		}
		return s.walk(&container{w: w, format: magic.Cab, prefix: prefix, depth: depth})
	case magic.MSI, magic.OLE:
		// Every stream, the embedded cabinets among them (found as nested
		// containers by their content).
		w, err := ole.NewWalker(f, size)
		if err != nil {
			return err
		}
		return s.walk(&container{w: w, format: format, prefix: prefix, depth: depth})
	}
	return fmt.Errorf("format %s is not supported by hashr-extract", format)
}

// noteExpressPayload reports a PSF file (the payload of an express
// update): its files are deltas against the Windows installed on a
// machine, rebuilt only by Windows' own servicing stack. It is hashed as
// one file; the error record says why its contents are not.
func (s *sourceRun) noteExpressPayload(full string) {
	if !strings.EqualFold(path.Ext(full), ".psf") {
		return
	}
	s.memberError(displayPath("", full), errors.New("a PSF express update payload: its files are deltas against an installed Windows and cannot be rebuilt without Windows; hashed as one file, its contents are not extracted"))
}
