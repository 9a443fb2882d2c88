package unpack

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
func (s *unpacker) member(c *container, full string, e *archive.Entry, r io.Reader) error {
	mr := &memberReader{r: r, s: s, expands: c.expands}
	// One buffer serves every member: a nested walk starts only once the
	// member's bytes have all gone through it.
	if s.head == nil {
		s.head = bufio.NewReaderSize(mr, magic.HeadSize)
	}
	br := s.head
	br.Reset(mr)
	descend, candidate, err := s.memberKind(c, full, br)
	if err != nil {
		return s.memberFailed(full, err)
	}
	f := s.fileRecord(full, e)
	pe := s.peVerifier(full)
	n, sums, kept, err := s.copyMember(f, full, teePE(br, pe), descend || candidate)
	if err != nil {
		return s.memberFailed(full, err)
	}
	f.Size = records.Int64(n)
	s.checkPE(f, full, pe)
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
	switch {
	case kept == nil:
		return nil
	case candidate:
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

// memberKind says, from the member's first bytes in br, whether it is
// walked as a container (descend), or kept in case it is the only file of
// a wrapper source (candidate): the wrapper rule, by which the first
// file of a tar source may be its only one, and then it is walked.
func (s *unpacker) memberKind(c *container, full string, br *bufio.Reader) (descend, candidate bool, err error) {
	mayCandidate := c.depth == 0 && s.top.wrapper && s.top.regular == 0
	if !s.mayDescend(c) && !mayCandidate {
		return false, false, nil // then the member's format does not matter
	}
	head, err := br.Peek(magic.HeadSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return false, false, err
	}
	kind := detectHead(head)
	descend = s.descends(c, full, kind) && !s.outsideImage(c, full)
	return descend, walkable(kind) && !descend && mayCandidate, nil
}

// copyMember spools or hashes the bytes from br of the member full, for
// its record f, and with keep keeps them to walk: in the spooled file, or
// with --hash in a temporary copy.
func (s *unpacker) copyMember(f *records.File, full string, br io.Reader, keep bool) (int64, digest.Sums, *keptCopy, error) {
	var sha hash.Hash
	if keep {
		sha = sha256.New()
	}
	var kept *keptCopy
	if s.spool != nil {
		n, local, err := s.spoolMember(f.Path, br, sha) // a UTF-8 name, as "local" is
		if err != nil {
			return 0, digest.Sums{}, nil, err
		}
		f.Local = local
		if keep {
			kept = &keptCopy{path: full, file: local}
		}
		return n, digest.Sums{}, kept.done(n, sha), nil
	}
	var tmp *os.File
	if keep {
		var err error
		if tmp, err = os.CreateTemp(s.opts.TempDir, "member-*"); err != nil {
			return 0, digest.Sums{}, nil, &fatalError{fmt.Errorf("creating a temporary file: %w", err)}
		}
		br = io.TeeReader(br, io.MultiWriter(s.sparse(tmp), sha))
		kept = &keptCopy{path: full, file: tmp.Name(), temp: true}
	}
	n, sums, err := s.hashMember(br, tmp)
	if err != nil {
		if kept != nil {
			kept.remove()
		}
		return 0, digest.Sums{}, nil, err
	}
	sums.Fill(f)
	return n, sums, kept.done(n, sha), nil
}

// hashMember hashes the member's bytes in r, finishing its temporary
// copy tmp (when not nil) as they go by.
func (s *unpacker) hashMember(r io.Reader, tmp *os.File) (int64, digest.Sums, error) {
	s.hash.Reset()
	n, err := s.hash.ReadFrom(r)
	if tmp != nil {
		if err == nil {
			err = finishSparse(tmp, n)
		}
		if cerr := tmp.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing a temporary copy: %w", cerr)
		}
	}
	if err != nil {
		return 0, digest.Sums{}, err
	}
	return n, s.hash.Sum(), nil
}

// done records the kept copy's size and sha256, once its bytes are all
// through sha; nil stays nil.
func (k *keptCopy) done(n int64, sha hash.Hash) *keptCopy {
	if k != nil {
		k.size, k.sha256 = n, hex.EncodeToString(sha.Sum(nil))
	}
	return k
}

// memberFailed reports a member that could not be read, unless the
// failure ends the source, which it returns.
func (s *unpacker) memberFailed(full string, err error) error {
	var fatal *fatalError
	if errors.As(err, &fatal) {
		return fatal.err
	}
	if stopsSource(err) {
		return err
	}
	s.memberError(displayPath("", full), err)
	return nil
}

// spoolMember writes a member's bytes under the spool directory. Blocks
// of zeros are left as holes: a sparse member (GNU tar -S, a raw disk
// image) takes the space of its data only, whatever its size.
func (s *unpacker) spoolMember(full string, r io.Reader, sha hash.Hash) (int64, string, error) {
	f, local, err := s.spool.Create(full)
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
func (s *unpacker) checkFree() error {
	s.sinceFreeCheck = 0
	dir := s.opts.TempDir // with --hash, temporary copies are all that is written
	if s.spool != nil {
		dir = s.spool.Dir
	}
	free, err := freeSpace(dir)
	if err != nil {
		return nil // cannot tell: the writes will say
	}
	if free < s.opts.Limits.MinFree {
		return &LimitError{What: fmt.Sprintf("the spool's file system has only %s free", FormatSize(free, "")),
			Flag: "--min-free", Limit: s.opts.Limits.MinFree}
	}
	return nil
}

// memberReader reads a member within the limits, and stops when the run
// is interrupted.
type memberReader struct {
	r       io.Reader
	s       *unpacker
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
		lim := &m.s.opts.Limits
		if m.n > lim.MemberBytes {
			m.err = &LimitError{What: "member too large", Flag: "--max-member-bytes", Limit: lim.MemberBytes, Member: true}
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

// fatalError is a failure that stops the source, whatever the member: no
// temporary file can be made.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

func (e *fatalError) Unwrap() error { return e.err }
