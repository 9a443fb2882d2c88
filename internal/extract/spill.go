package extract

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/hashr-dev/hashr/pkg/records"
)

// spill holds the records of one source until the source's turn comes to
// be written. Sources are extracted in parallel but written in input
// order, and a source can yield millions of records, so what does not fit
// in spillMemory goes to a temporary file: memory stays bounded (workers
// × spillMemory) however big the sources, and no worker waits for the
// one before it to be written.
type spill struct {
	tmpDir string
	mem    bytes.Buffer
	file   *os.File
	w      *bufio.Writer
}

// spillMemory is how many bytes of records a spill keeps in memory.
const spillMemory = 1 << 20

func newSpill(tmpDir string) *spill { return &spill{tmpDir: tmpDir} }

// Add appends a record.
func (s *spill) Add(rec records.Record) error {
	line, err := records.Marshal(rec)
	if err != nil {
		return err
	}
	return s.addLine(line)
}

// addLine appends a record already marshalled, without its newline.
func (s *spill) addLine(line []byte) error {
	if s.file == nil && s.mem.Len()+len(line)+1 > spillMemory {
		f, err := os.CreateTemp(s.tmpDir, "records-*.ndjson")
		if err != nil {
			return fmt.Errorf("spilling records to disk: %w", err)
		}
		s.file, s.w = f, bufio.NewWriterSize(f, 256<<10)
		if _, err := s.w.Write(s.mem.Bytes()); err != nil {
			return fmt.Errorf("spilling records to disk: %w", err)
		}
		s.mem = bytes.Buffer{}
	}
	if s.file != nil {
		s.w.Write(line)
		if err := s.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("spilling records to disk: %w", err)
		}
		return nil
	}
	s.mem.Write(line)
	s.mem.WriteByte('\n')
	return nil
}

// drain writes the records to w, in the order they were added, and
// releases the spill.
func (s *spill) drain(w *records.Writer) error {
	defer s.discard()
	var r *bufio.Reader
	if s.file != nil {
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("spilling records to disk: %w", err)
		}
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r = bufio.NewReaderSize(s.file, 256<<10)
	} else {
		r = bufio.NewReader(&s.mem)
	}
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 1 {
			if werr := w.WriteRaw(&records.Raw{Line: line[:len(line)-1]}); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading spilled records: %w", err)
		}
	}
}

// discard drops the records.
func (s *spill) discard() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
		s.file = nil
	}
	s.mem = bytes.Buffer{}
}
