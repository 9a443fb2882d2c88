// Package unpack is the walk engine of hashr-extract, as a library: given
// a source's bytes, it emits one file record per regular file inside (a
// package, an archive, a disk image), descending into nested containers
// as the depth policy allows, within the limits, with member bytes
// spooled or hashed on the fly. It knows nothing of the command line or
// of sandbox processes: Run prepares a source and hands it to a Walker,
// InProcess here or hashr-extract's sandboxed one, whose sandbox child
// (package sandbox) calls Run with InProcess on the same Settings.
package unpack

import (
	"bufio"
	"context"
	"crypto/x509"
	"io"
	"path"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// Stage names hashr-extract in error records and end records' ms.
const Stage = "extract"

// Settings are what a run asks of the walk of every source: its flags,
// read once. They are what crosses to a sandbox child in its job, as
// JSON (the same program reads it back).
type Settings struct {
	Algos       digest.Set   `json:"algos,omitempty"` // hash members on the fly; 0: spool them
	MaxDepth    Depth        `json:"max_depth"`
	Flatten     bool         `json:"flatten,omitempty"`      // container images: the final file system only
	Platform    *v1.Platform `json:"platform,omitempty"`     // container images: only this platform's
	DebControl  bool         `json:"deb_control,omitempty"`  // a .deb's control members too
	SystemFiles bool         `json:"system_files,omitempty"` // file systems' own bookkeeping files too
	Limits      Limits       `json:"limits"`
	// VerifyMembers checks the Authenticode signature of PE members
	// against Roots, PEM root certificates ("": the signature, not its
	// chain). PEM, not a pool, so that a sandbox child is given it.
	VerifyMembers bool   `json:"verify_members,omitempty"`
	Roots         string `json:"roots,omitempty"`
}

// Options are what a walk is asked to do: the run's Settings, and where
// this process keeps the source's files and says what happens.
type Options struct {
	Settings
	// TempDir holds temporary copies of nested containers.
	TempDir string
	// Spool is where members' bytes go; nil with Algos.
	Spool *Spool
	Log   Log
}

// Log takes the walk's messages: a failure (which sets the exit status)
// and what --verbose says. *cli.Program is one.
type Log interface {
	Failf(format string, args ...any)
	Verbosef(format string, args ...any)
}

// Sink takes the records of one source as they are made.
type Sink interface {
	Add(records.Record) error
}

// Counts are what a source's end record counts.
type Counts struct {
	Files, Errors, Bytes int64
}

// Source walks the source src, whose size bytes r holds (src has its
// sha256: see Open), adding its file and error records to sink. The
// error is a failure to keep records (sink's), which ends the run; the
// source's own failures are error records.
func Source(ctx context.Context, r io.ReaderAt, size int64, src *records.Source, opts Options, sink Sink) (Counts, error) {
	s := newUnpacker(ctx, src, opts, sink)
	s.walkSource(r, size)
	return s.counts, s.fatal
}

// unpacker is the walk of one source.
type unpacker struct {
	opts  Options
	ctx   context.Context
	src   *records.Source
	sha   string
	label string // how messages name the source
	out   Sink
	spool *Spool         // nil with Algos
	hash  *digest.Hasher // nil without Algos

	budget budget
	counts Counts
	fatal  error
	roots  *x509.CertPool // Roots parsed (rootPool)

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

func newUnpacker(ctx context.Context, src *records.Source, opts Options, out Sink) *unpacker {
	s := &unpacker{
		opts: opts, ctx: ctx, src: src, out: out, spool: opts.Spool, sha: src.SHA256,
		budget:   budget{lim: &opts.Limits},
		symlinks: map[string]bool{},
		links:    map[string]*linkInfo{},
		label:    Label(src),
	}
	if opts.Algos != 0 {
		s.hash = digest.New(opts.Algos)
	}
	return s
}

// Label is how messages name a source: its id, uri or local path.
func Label(src *records.Source) string {
	for _, s := range []string{src.ID, src.URI, src.Local} {
		if s != "" {
			return s
		}
	}
	return "source"
}

// walkSource walks the source in r, then, by the wrapper rule, the one
// file a tar or compressed source held.
func (s *unpacker) walkSource(r io.ReaderAt, size int64) {
	s.budget.sourceSize = size
	if s.spool != nil {
		if err := s.checkFree(); err != nil {
			s.sourceError(err)
			return
		}
	}
	s.ancestors = []string{s.sha}
	name := path.Base(filepath.ToSlash(s.label))
	if err := s.walkFile(r, size, name, "", 0); err != nil {
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
