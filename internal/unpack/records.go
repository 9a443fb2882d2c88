package unpack

import (
	"os"

	"github.com/hashr-dev/hashr/pkg/records"
)

func (s *unpacker) dropCandidate() {
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

func (s *unpacker) buffer() []byte {
	if s.copyBuf == nil {
		s.copyBuf = make([]byte, 1<<20)
	}
	return s.copyBuf
}

// emitFile adds a file record.
func (s *unpacker) emitFile(f *records.File) {
	s.counts.Files++
	if f.Size != nil {
		s.counts.Bytes += *f.Size
	}
	s.add(f)
}

// memberError reports a failure of one member and goes on.
func (s *unpacker) memberError(p string, err error) {
	s.counts.Errors++
	s.opts.Log.Failf("%s: %s: %v", s.label, p, err)
	s.add(ErrorRecord(s.src, p, err))
}

// sourceError reports a failure of the source as a whole.
func (s *unpacker) sourceError(err error) {
	if s.ctx.Err() != nil {
		return // interrupted: nothing of this source is written
	}
	s.counts.Errors++
	s.opts.Log.Failf("%s: %v", s.label, err)
	s.add(ErrorRecord(s.src, "", err))
}

func (s *unpacker) add(rec records.Record) {
	if s.fatal != nil {
		return
	}
	if err := s.out.Add(rec); err != nil {
		s.fatal = err
	}
}
