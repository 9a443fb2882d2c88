package unpack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/pkg/records"
)

// walk emits the records of a container's members, descending into
// nested containers as --max-depth allows. It returns an error only when
// the container cannot be walked further (corrupt, truncated, a limit);
// a member that fails is an error record and the walk goes on.
func (s *unpacker) walk(c *container) error {
	defer archive.Close(c.w)
	for {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		e, err := c.w.Next()
		if err == io.EOF {
			return nil
		}
		var part *archive.PartError
		if errors.As(err, &part) {
			// One volume or directory of a disk image is broken: the
			// rest still comes out. Each counts as a member, so that a
			// hostile image cannot make errors without end.
			if err := s.budget.addMember(); err != nil {
				return err
			}
			s.memberError(displayPath("", joinPart(c.prefix, part.Path)), part.Err)
			continue
		}
		if err != nil {
			return err
		}
		if err := s.budget.addMember(); err != nil {
			return err
		}
		full, ok := s.regularName(c, e)
		if !ok {
			continue
		}
		if err := s.regular(c, full, e); err != nil {
			return err
		}
	}
}

// regularName is the path of a member that is a file (regular or a hard
// link); ok is false for what emits no file record (a directory, a
// symlink, a file system's own file) or an error record (a hostile name).
func (s *unpacker) regularName(c *container, e *archive.Entry) (string, bool) {
	if e.System && !s.opts.SystemFiles {
		return "", false
	}
	name, err := cleanName(e.Name)
	if err != nil {
		s.memberError(displayPath(c.prefix, e.Name), err)
		return "", false
	}
	if name == "" {
		if e.Type == archive.Regular || e.Type == archive.Hardlink {
			s.memberError(displayPath(c.prefix, e.Name), errRootNamedFile)
		}
		return "", false // the root directory
	}
	full := c.prefix + name
	switch e.Type {
	case archive.Dir, archive.Other:
		return "", false
	case archive.Symlink:
		s.symlinks[full] = true
		return "", false
	}
	return full, true
}

// regular emits the record of the file member full of c: a hard link,
// or its bytes, walked when it is a container.
func (s *unpacker) regular(c *container, full string, e *archive.Entry) error {
	if s.imageOfISO(c) {
		// The source is one image of this ISO's install WIM: that
		// image's files are all it holds.
		return s.installImage(c, full)
	}
	if link := s.throughSymlink(c.prefix, strings.TrimPrefix(full, c.prefix)); link != "" {
		s.memberError(displayPath("", full), fmt.Errorf("path goes through the symlink %q: refused (an extractor would write where the link points)", link))
		return nil
	}
	if e.Type == archive.Hardlink {
		s.hardLink(c, full, e)
		return nil
	}
	r, err := c.w.Open()
	if err != nil {
		s.memberError(displayPath("", full), err)
		return nil
	}
	if err := s.member(c, full, e, r); err != nil {
		return err
	}
	s.noteExpressPayload(full)
	return nil
}

// throughSymlink returns the symlink among the directories above name,
// if there is one.
func (s *unpacker) throughSymlink(prefix, name string) string {
	if len(s.symlinks) == 0 {
		return ""
	}
	for dir := range parents(name) {
		if s.symlinks[prefix+dir] {
			return prefix + dir
		}
	}
	return ""
}

// hardLink emits a file record for another name of an earlier file, with
// that file's content.
func (s *unpacker) hardLink(c *container, full string, e *archive.Entry) {
	target, err := cleanName(e.Linkname)
	if err == nil && target == "" {
		err = errors.New("hard link to the root directory")
	}
	if err != nil {
		s.memberError(displayPath("", full), fmt.Errorf("hard link to %q: %w", e.Linkname, err))
		return
	}
	info := s.links[c.prefix+target]
	if info == nil {
		s.memberError(displayPath("", full), fmt.Errorf("hard link to %q, which is not a file earlier in the archive", target))
		return
	}
	f := s.fileRecord(full, e)
	f.Size = records.Int64(info.size)
	if s.spool != nil {
		local, err := s.spool.link(info.local, f.Path)
		if err != nil {
			s.memberError(displayPath("", full), fmt.Errorf("spooling: %w", err))
			return
		}
		f.Local = local
	} else {
		info.sums.Fill(f)
	}
	s.links[full] = info
	if c.depth == 0 {
		s.top.regular++
	}
	s.emitFile(f)
}

// fileRecord starts the record of a member.
func (s *unpacker) fileRecord(full string, e *archive.Entry) *records.File {
	p, raw := records.PathFields(full)
	f := &records.File{Source: s.sha, Path: p, PathRaw: raw}
	if e.ModeKnown {
		f.Mode = records.Mode(e.Mode)
	}
	if !e.ModTime.IsZero() {
		f.Mtime = records.Time(e.ModTime)
	}
	f.FS = e.FS
	f.Image = e.Image
	if f.Image == "" {
		f.Image = s.image // a member of a container inside a WIM image
	}
	return f
}

// nested walks a member kept as a container.
func (s *unpacker) nested(k *keptCopy, depth int) error {
	for _, sha := range s.ancestors {
		if sha == k.sha256 {
			s.memberError(displayPath("", k.path), errors.New("archive contains itself (a quine, or a cycle of nested archives): not walked again"))
			return nil
		}
	}
	f, err := os.Open(k.file)
	if err != nil {
		s.memberError(displayPath("", k.path), fmt.Errorf("opening it to walk it: %w", err))
		return nil
	}
	defer f.Close()
	s.ancestors = append(s.ancestors, k.sha256)
	defer func() { s.ancestors = s.ancestors[:len(s.ancestors)-1] }()
	err = s.walkFile(f, k.size, path.Base(k.path), k.path+nestSep, depth)
	if err == nil {
		return nil
	}
	if stopsSource(err) {
		return err
	}
	s.memberError(displayPath("", k.path), fmt.Errorf("walking it: %w", err))
	return nil
}

// stopsSource says whether err ends the whole source rather than one
// member or nested container: a source-wide limit, an interruption, or a
// failure to keep records.
func stopsSource(err error) bool {
	var le *LimitError
	if errors.As(err, &le) {
		return !le.Member
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// joinPart is the path of a part of a container: its path inside, after
// the container's prefix; the container itself when the part has none.
func joinPart(prefix, p string) string {
	if p == "" {
		return strings.TrimSuffix(prefix, nestSep)
	}
	return prefix + p
}

// describe says in --verbose what a container held, when its walker
// tells (a disk image: its volumes and file systems).
func (s *unpacker) describe(w archive.Walker) {
	if d, ok := w.(interface{ Describe() string }); ok {
		s.opts.Log.Verbosef("%s: %s", s.label, d.Describe())
	}
}
