package extract

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/pkg/records"
)

// freeCheckEvery is how many spooled bytes go by between checks of the
// spool's free space.
const freeCheckEvery = 64 << 20

// member emits the record of one regular file, with its bytes spooled or
// hashed, and walks it when it is a container to descend into. An error
// return stops the whole source; a failure of this member alone is an
// error record.
func (s *sourceRun) member(c *container, full string, e *archive.Entry, r io.Reader) error {
	mr := &memberReader{r: r, s: s, expands: c.expands}
	// One buffer serves every member: a nested walk starts only once the
	// member's bytes have all gone through it.
	if s.head == nil {
		s.head = bufio.NewReaderSize(mr, magic.HeadSize)
	}
	br := s.head
	br.Reset(mr)
	// The wrapper rule: the first file of a tar source may be its only
	// one, and then it is walked. Keep its bytes until that is known.
	mayCandidate := c.depth == 0 && s.top.wrapper && s.top.regular == 0
	var descend, candidate bool
	if s.mayDescend(c) || mayCandidate {
		// Only then does the format of the member matter.
		head, perr := br.Peek(magic.HeadSize)
		if perr != nil && perr != io.EOF && perr != bufio.ErrBufferFull {
			return s.memberFailed(full, perr)
		}
		kind := detectHead(head)
		descend = s.descends(c, full, kind) && !s.outsideImage(c, full)
		candidate = walkable(kind) && !descend && mayCandidate
	}
	keep := descend || candidate

	f := s.fileRecord(full, e)
	var kept *keptCopy
	var sha hash.Hash
	if keep {
		sha = sha256.New()
	}
	var n int64
	var err error
	var sums digest.Sums
	if s.spool != nil {
		n, f.Local, err = s.spoolMember(f.Path, br, sha) // a UTF-8 name, as "local" is
		if keep && err == nil {
			kept = &keptCopy{path: full, file: f.Local}
		}
	} else {
		var tmp *os.File
		var src io.Reader = br
		if keep {
			if tmp, err = os.CreateTemp(s.x.tmpDir, "member-*"); err != nil {
				return fmt.Errorf("creating a temporary file: %w", err)
			}
			src = io.TeeReader(br, io.MultiWriter(s.sparse(tmp), sha))
			kept = &keptCopy{path: full, file: tmp.Name(), temp: true}
		}
		s.hash.Reset()
		n, err = s.hash.ReadFrom(src)
		if tmp != nil {
			if err == nil {
				err = finishSparse(tmp, n)
			}
			if cerr := tmp.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("writing a temporary copy: %w", cerr)
			}
		}
		if err == nil {
			sums = s.hash.Sum()
			sums.Fill(f)
		}
	}
	if err != nil {
		if kept != nil && kept.temp {
			kept.remove()
		}
		return s.memberFailed(full, err)
	}
	f.Size = records.Int64(n)
	if c.hardLinks {
		s.links[full] = &linkInfo{local: f.Local, size: n, sums: sums}
	}
	if c.depth == 0 {
		s.top.regular++
		if s.top.regular == 2 {
			s.dropCandidate() // more than one file: not a wrapper
		}
	}
	s.emitFile(f)
	if kept == nil {
		return nil
	}
	kept.size, kept.sha256 = n, hex.EncodeToString(sha.Sum(nil))
	if candidate {
		s.top.candidate = kept
		return nil
	}
	defer kept.remove()
	if e.Image != "" {
		// What the member holds is in the same WIM image.
		outer := s.image
		s.image = e.Image
		defer func() { s.image = outer }()
	}
	defer s.enterUpdate(c)()
	return s.nested(kept, c.depth+1)
}

// memberFailed reports a member that could not be read, unless the
// failure ends the source, which it returns.
func (s *sourceRun) memberFailed(full string, err error) error {
	if stopsSource(err) {
		return err
	}
	s.memberError(displayPath("", full), err)
	return nil
}

// spoolMember writes a member's bytes under the spool directory. Blocks
// of zeros are left as holes: a sparse member (GNU tar -S, a raw disk
// image) takes the space of its data only, whatever its size.
func (s *sourceRun) spoolMember(full string, r io.Reader, sha hash.Hash) (int64, string, error) {
	f, local, err := s.spool.create(full)
	if err != nil {
		return 0, "", fmt.Errorf("spooling: %w", err)
	}
	w := s.sparseSpool(f) // checks the spool's free space as it goes
	if sha != nil {
		w = io.MultiWriter(w, sha)
	}
	n, err := io.CopyBuffer(w, r, s.buffer())
	if err == nil {
		if err = f.Truncate(n); err != nil { // the zeros at its end
			err = fmt.Errorf("spooling: %w", err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("spooling: %w", cerr)
	}
	if err != nil {
		os.Remove(local)
		return 0, "", err
	}
	return n, local, nil
}

// checkFree fails when the spool's file system is nearly full.
func (s *sourceRun) checkFree() error {
	s.sinceFreeCheck = 0
	dir := s.x.tmpDir // with --hash, temporary copies are all that is written
	if s.spool != nil {
		dir = s.spool.dir
	}
	free, err := freeSpace(dir)
	if err != nil {
		return nil // cannot tell: the writes will say
	}
	if free < s.x.opts.limits.minFree {
		return &LimitError{What: fmt.Sprintf("the spool's file system has only %s free", formatSize(free, "")),
			Flag: "--min-free", Limit: s.x.opts.limits.minFree}
	}
	return nil
}

// memberReader reads a member within the limits, and stops when the run
// is interrupted.
type memberReader struct {
	r       io.Reader
	s       *sourceRun
	n       int64
	expands bool
	err     error
}

func (m *memberReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if err := m.s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := m.r.Read(p)
	if n > 0 {
		m.n += int64(n)
		lim := &m.s.x.opts.limits
		if m.n > lim.memberBytes {
			m.err = &LimitError{What: "member too large", Flag: "--max-member-bytes", Limit: lim.memberBytes, Member: true}
		} else if lerr := m.s.budget.addBytes(int64(n)); lerr != nil {
			m.err = lerr
		} else if m.expands {
			if lerr := m.s.budget.Expand(int64(n)); lerr != nil {
				m.err = lerr
			}
		}
		if m.err != nil {
			return n, m.err
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = archive.Corrupt("member", -1, "truncated")
	}
	if err != nil && err != io.EOF {
		m.err = err
	}
	return n, err
}
