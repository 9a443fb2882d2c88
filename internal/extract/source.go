package extract

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/internal/regular"
	"github.com/hashr-dev/hashr/pkg/records"
)

// stage names this stage in error records and end records' ms.
const stage = "extract"

// result is what the output needs of one input record: a record passed
// through, or an extracted source with its records and end.
type result struct {
	raw      *records.Raw
	source   *records.Source
	out      *spill
	end      *records.End
	inputSHA string // the sha256 the source record came with, if any
	spoolDir string // the source's spool directory, "" with --hash
	err      error  // fatal for the run (records could not be kept)
}

// sourceRun is the extraction of one source, on one worker goroutine.
type sourceRun struct {
	x     *extractor
	ctx   context.Context
	src   *records.Source
	sha   string
	label string         // how messages name the source
	out   recordSink     // the spill, or in a sandbox child the pipe to the parent
	spool *sourceSpool   // nil with --hash
	hash  *digest.Hasher // nil without --hash
	// opened is the source's file, in a shared sandbox child: handed
	// over open, as the child may open no source by its path.
	opened *os.File
	// staged is where a shared sandbox child spools the source: a
	// directory of its own temporary one, moved to spool.dir once done.
	staged string

	budget budget
	files  int64
	errors int64
	bytes  int64
	fatal  error

	symlinks  map[string]bool      // paths of symlinks seen
	links     map[string]*linkInfo // regular files, for hard links to them
	ancestors []string             // sha256 of the containers being walked
	image     string               // the WIM image being walked, for nested members
	inUpdate  bool                 // walking what a Windows update holds (--max-depth auto)
	// selectAt is the prefix of the WIM that the source's wim_image and
	// parts are of: "" for the source itself, the install image's path
	// and "!/" in an install ISO, once found.
	selectAt string
	ownWIM   bool // that WIM was opened
	top      topLevel

	copyBuf        []byte
	head           *bufio.Reader // peeks at each member's first bytes
	sinceFreeCheck int64
}

// linkInfo is what a hard link needs of the file it names.
type linkInfo struct {
	local string
	size  int64
	sums  digest.Sums
}

// topLevel tracks the source's own members for the wrapper rule: a
// tar(.gz) whose only file is an archive or a disk image is unwrapped
// whatever --max-depth says, as its whole point is that file.
type topLevel struct {
	wrapper   bool // the source is a tar or a compressed file
	regular   int  // file records at depth 0
	candidate *keptCopy
}

// keptCopy is a member's bytes kept to walk it as a container.
type keptCopy struct {
	path   string // the member's record path
	file   string // where its bytes are
	temp   bool   // file is a temporary copy, to remove after
	size   int64
	sha256 string
}

func (x *extractor) extractSource(ctx context.Context, raw *records.Raw) *result {
	start := time.Now()
	rec, err := raw.Decode()
	if err != nil {
		return x.undecodable(raw, err)
	}
	src := rec.(*records.Source)
	out := newSpill(x.tmpDir)
	s := x.newSourceRun(ctx, src, out)
	res := &result{source: src, out: out, inputSHA: src.SHA256}
	s.run()
	res.end = &records.End{
		Source: s.sha, Files: s.files, Errors: s.errors, Bytes: s.bytes,
		MS: map[string]int64{stage: time.Since(start).Milliseconds()},
	}
	if s.spool != nil {
		res.spoolDir = s.spool.dir
	}
	res.err = s.fatal
	return res
}

// undecodable reports a source record that does not decode, and puts an
// error record in its place: passed on, the next stage would trip on it
// too, and dropped, the source would vanish without a word.
func (x *extractor) undecodable(raw *records.Raw, err error) *result {
	x.p.Failf("%v", err)
	line, merr := records.Marshal(records.Undecodable(stage, raw, err))
	if merr != nil {
		return &result{err: merr}
	}
	return &result{raw: &records.Raw{Type: records.TypeError, Line: line, Where: raw.Where}}
}

// recordSink takes the records of one source as they are made.
type recordSink interface {
	add(records.Record) error
}

func (x *extractor) newSourceRun(ctx context.Context, src *records.Source, out recordSink) *sourceRun {
	s := &sourceRun{
		x: x, ctx: ctx, src: src, out: out,
		budget:   budget{lim: &x.opts.limits},
		symlinks: map[string]bool{},
		links:    map[string]*linkInfo{},
		label:    sourceLabel(src),
	}
	if x.opts.algos != 0 {
		s.hash = digest.New(x.opts.algos)
	}
	return s
}

func sourceLabel(src *records.Source) string {
	for _, s := range []string{src.ID, src.URI, src.Local} {
		if s != "" {
			return s
		}
	}
	return "source"
}

func (s *sourceRun) run() {
	if dir, ok := s.layoutDir(); ok {
		s.runLayoutDir(dir)
		return
	}
	f, size, err := s.open()
	if err != nil {
		s.sourceError(err)
		return
	}
	defer f.Close()
	s.budget.sourceSize = size
	if s.spool == nil && s.x.spools != nil { // a sandbox child is given its spool
		if s.spool, err = s.x.openSpool(s.sha); err != nil {
			s.sourceError(err)
			return
		}
	}
	if s.spool != nil {
		if err := s.checkFree(); err != nil {
			s.sourceError(err)
			return
		}
	}
	s.ancestors = []string{s.sha}
	name := path.Base(filepath.ToSlash(s.label))
	if err := s.walkFile(f, size, name, "", 0); err != nil {
		s.sourceError(err)
		s.dropCandidate()
		return
	}
	if err := s.checkSelected(); err != nil {
		s.sourceError(err)
	}
	if c := s.top.candidate; c != nil {
		s.top.candidate = nil
		if s.top.regular == 1 {
			if err := s.nested(c, 1); err != nil {
				s.sourceError(err)
			}
		}
		c.remove()
	}
}

func (s *sourceRun) dropCandidate() {
	if s.top.candidate != nil {
		s.top.candidate.remove()
		s.top.candidate = nil
	}
}

func (k *keptCopy) remove() {
	if k.temp {
		os.Remove(k.file)
	}
}

// open finds the source's bytes, and its sha256 and size when the record
// lacks them (a source straight from hashr-scan).
func (s *sourceRun) open() (*os.File, int64, error) {
	local, err := s.src.LocalPath()
	if err != nil {
		return nil, 0, err
	}
	f := s.opened
	var st os.FileInfo
	if f == nil {
		// Not os.Open: a FIFO or device given as a source blocked it forever.
		f, st, err = regular.OpenFile(local)
	} else if st, err = f.Stat(); err == nil && !st.Mode().IsRegular() {
		err = &regular.NotAFileError{Path: local, Mode: st.Mode(), Regular: true}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, 0, err
	}
	s.src.Local = local
	if s.src.Size == nil {
		s.src.Size = records.Int64(st.Size())
	}
	if s.src.SHA256 == "" {
		h := sha256.New()
		if _, err := io.CopyBuffer(h, ctxReader{s.ctx, f}, s.buffer()); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("reading %q: %w", local, cli.Cause(err))
		}
		s.src.SHA256 = hex.EncodeToString(h.Sum(nil))
	} else if err := records.CheckHex("sha256", s.src.SHA256); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("source record: %w", err)
	}
	s.sha = s.src.SHA256
	return f, st.Size(), nil
}

func (s *sourceRun) buffer() []byte {
	if s.copyBuf == nil {
		s.copyBuf = make([]byte, 1<<20)
	}
	return s.copyBuf
}

// emitFile adds a file record.
func (s *sourceRun) emitFile(f *records.File) {
	s.files++
	if f.Size != nil {
		s.bytes += *f.Size
	}
	s.add(f)
}

// memberError reports a failure of one member and goes on.
func (s *sourceRun) memberError(p string, err error) {
	s.errors++
	s.x.p.Failf("%s: %s: %v", s.label, p, err)
	s.add(&records.Error{Stage: stage, Source: s.sha, ID: s.src.ID, URI: s.uriIfNoSHA(), Path: p, Message: err.Error()})
}

// sourceError reports a failure of the source as a whole.
func (s *sourceRun) sourceError(err error) {
	if s.ctx.Err() != nil {
		return // interrupted: nothing of this source is written
	}
	s.errors++
	s.x.p.Failf("%s: %v", s.label, err)
	s.add(&records.Error{Stage: stage, Source: s.sha, ID: s.src.ID, URI: s.uriIfNoSHA(), Message: err.Error()})
}

func (s *sourceRun) uriIfNoSHA() string {
	if s.sha == "" {
		return s.src.URI
	}
	return ""
}

func (s *sourceRun) add(rec records.Record) {
	if s.fatal != nil {
		return
	}
	if err := s.out.add(rec); err != nil {
		s.fatal = err
	}
}

// ctxReader stops a long read when the run is interrupted.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
