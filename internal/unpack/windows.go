package unpack

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/formats"
	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/internal/magic"
)

// walkWIM walks every image of a WIM (install.wim, install.esd), or
// the one the source's wim_image selects, from all its parts when the
// source is a split WIM. What the Go reader does not decode (LZMS, the
// usual compression of ESDs) is first converted by wimlib-imagex into
// an uncompressed WIM in the temporary directory, and that is walked.
func (s *unpacker) walkWIM(f io.ReaderAt, size int64, prefix string, depth int) error {
	// The source's own WIM: the source itself, or the install image of
	// an ISO source of one image (selectAt). Its wim_image and parts
	// apply; nested WIMs are walked whole.
	own := prefix == s.selectAt
	s.ownWIM = s.ownWIM || own
	parts := []wim.Part{{R: f, Size: size}}
	var refs []string
	if own && prefix == "" {
		parts[0].Name = s.src.Local
		more, err := s.openParts()
		defer closeParts(more)
		if err != nil {
			return err
		}
		for _, p := range more {
			parts = append(parts, p)
			refs = append(refs, p.Name)
		}
	}
	w, err := wim.NewSplitWalker(parts)
	if errors.Is(err, wim.ErrNeedsWimlib) {
		conv, convSize, cerr := s.convertWIM(f, size, err, refs)
		if cerr != nil {
			return cerr
		}
		defer func() { conv.Close(); os.Remove(conv.Name()) }()
		w, err = wim.NewWalker(conv, convSize)
	}
	if err != nil {
		return err
	}
	if own && s.src.WIMImage != nil {
		if err := selectImage(w, *s.src.WIMImage); err != nil {
			return err
		}
	}
	return s.walk(newContainer(w, traits(magic.WIM), prefix, depth))
}

// installMedia says whether a container of this format can be an
// install ISO, whose install image wim_image selects in.
func installMedia(format string) bool { return traits(format).Auto == formats.InstallMedia }

// imageOfISO says whether c is an install ISO source of which the source
// is one image (wim_image 1 or more).
func (s *unpacker) imageOfISO(c *container) bool {
	img := s.src.WIMImage
	return img != nil && *img > 0 && c.depth == 0 && installMedia(c.format)
}

// outsideImage says whether full, a member of c, is the install image
// that a source of an install ISO without it (wim_image 0) leaves out:
// hashed as one file, not walked, as sources of its images walk it.
func (s *unpacker) outsideImage(c *container, full string) bool {
	img := s.src.WIMImage
	if img == nil || *img != 0 || c.depth != 0 || !installMedia(c.format) || s.selectAt != "" || !wim.IsInstallImage(full) {
		return false
	}
	s.selectAt = full + nestSep
	return true
}

// installImage walks, of an install ISO's member full, the image the
// source's wim_image selects, when full is the ISO's install image (the
// first sources/install.wim or .esd); other members are left out. It is
// read in place when the ISO's reader can, else from a temporary copy.
func (s *unpacker) installImage(c *container, full string) error {
	if s.selectAt != "" || !wim.IsInstallImage(full) {
		return nil
	}
	s.selectAt = full + nestSep
	var ra io.ReaderAt
	var size int64
	var err error
	if at, ok := c.w.(archive.RandomAccess); ok {
		ra, size, err = at.OpenAt()
	} else {
		var r io.Reader
		if r, err = c.w.Open(); err == nil {
			var tmp *os.File
			if tmp, size, err = s.tempCopy(r); err == nil {
				defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
				ra = tmp
			}
		}
	}
	if err != nil {
		return fmt.Errorf("reading the install image %s: %w", full, err)
	}
	if err := s.walkFile(ra, size, path.Base(full), s.selectAt, c.depth+1); err != nil {
		return fmt.Errorf("walking image %d of the install image %s: %w", *s.src.WIMImage, full, err)
	}
	return nil
}

// checkSelection refuses, before the walk, a wim_image or parts the
// source's format cannot have.
func (s *unpacker) checkSelection(format string) error {
	if len(s.src.Parts) > 0 && format != magic.WIM {
		return fmt.Errorf("the source has parts, as a split WIM has, but it is %s, not a WIM", formatName(format))
	}
	if s.src.WIMImage != nil && format != magic.WIM && !installMedia(format) {
		return fmt.Errorf("the source has wim_image %d, but it is %s, neither a WIM nor an install ISO", *s.src.WIMImage, formatName(format))
	}
	return nil
}

// checkSelected says, after the walk, when the source's wim_image found
// no WIM to select in: an ISO without an install image.
func (s *unpacker) checkSelected() error {
	if img := s.src.WIMImage; img != nil && *img > 0 && !s.ownWIM {
		return fmt.Errorf("wim_image %d: the ISO holds no sources/install.wim or sources/install.esd", *img)
	}
	return nil
}

func formatName(format string) string {
	if format == "" {
		return "of no container format"
	}
	return "a " + format
}

// selectImage makes w walk only the image of that index, or says which
// images there are.
func selectImage(w *wim.Walker, index int) error {
	images := w.Reader().Images
	switch {
	case index == 0:
		return fmt.Errorf("wim_image 0 stands for an install ISO without its install image, but the source is a WIM: its images are %s", wim.Describe(images))
	case index > len(images):
		return fmt.Errorf("wim_image %d: the WIM has no such image: its images are %s", index, wim.Describe(images))
	}
	return w.SelectImage(index)
}

// openParts opens the other parts of a split WIM source (its "parts"),
// each with its size and path; closeParts closes them.
func (s *unpacker) openParts() ([]wim.Part, error) {
	var parts []wim.Part
	for _, name := range s.src.Parts {
		f, err := os.Open(name)
		if err != nil {
			return parts, fmt.Errorf("opening the split WIM's part %q: %w", name, cli.Cause(err))
		}
		st, err := f.Stat()
		parts = append(parts, wim.Part{R: f, Name: name})
		if err != nil || !st.Mode().IsRegular() {
			return parts, fmt.Errorf("the split WIM's part %q is not a regular file", name)
		}
		parts[len(parts)-1].Size = st.Size()
	}
	return parts, nil
}

func closeParts(parts []wim.Part) {
	for _, p := range parts {
		p.R.(*os.File).Close()
	}
}

// convertWIM runs wimlib-imagex to rewrite the WIM in f uncompressed,
// and opens the result. why is what the Go reader could not decode;
// refs are the other parts of a split WIM whose part 1 f is.
func (s *unpacker) convertWIM(f io.ReaderAt, size int64, why error, refs []string) (*os.File, int64, error) {
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
	dst, err := os.CreateTemp(s.opts.TempDir, "wim-*.wim")
	if err != nil {
		return nil, 0, fmt.Errorf("creating a temporary file: %w", err)
	}
	dst.Close()
	s.opts.Log.Verbosef("%s: %v: converting the WIM with %s export --compress=none", s.label, why, wim.WimlibTool)
	if err := wim.Convert(s.ctx, src, dst.Name(), refs...); err != nil {
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

// noteExpressPayload reports a PSF file (the payload of an express
// update): its files are deltas against the Windows installed on a
// machine, rebuilt only by Windows' own servicing stack. It is hashed as
// one file; the error record says why its contents are not.
func (s *unpacker) noteExpressPayload(full string) {
	if !strings.EqualFold(path.Ext(full), ".psf") {
		return
	}
	s.memberError(displayPath("", full), errors.New("a PSF express update payload: its files are deltas against an installed Windows and cannot be rebuilt without Windows; hashed as one file, its contents are not extracted"))
}
