package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Raw is one record as read: its type and its exact bytes. A stage decodes
// the records it handles and writes every other Raw back unchanged.
type Raw struct {
	Type string
	// Line is the record's JSON object as read, without the newline.
	Line []byte
	// Where names the record's place in the input, e.g. "stdin:12".
	Where  string
	fields map[string]json.RawMessage
	index  memberIndex // where Line's members lie, for Members
}

// Decode returns the typed record for a raw one of a type this package
// defines. It fails for other types and for fields of the wrong JSON type.
func (r *Raw) Decode() (Record, error) {
	rec := New(r.Type)
	if rec == nil {
		return nil, fmt.Errorf("%s: unknown record type %q", r.Where, r.Type)
	}
	fields := r.fields
	if fields == nil {
		if err := json.Unmarshal(r.Line, &fields); err != nil {
			return nil, &LineError{Where: r.Where, Err: describeSyntax(err, r.Line)}
		}
	}
	if err := decodeFields(rec, r.Line, fields); err != nil {
		return nil, &LineError{Where: r.Where, Err: fmt.Errorf("%s record: %w", r.Type, err)}
	}
	return rec, nil
}

// LineError is a line of input that is not a record. Reading goes on with
// the next line.
type LineError struct {
	Where string // "stdin:12" or "FILE:12"
	Err   error
	// Text is the line as read, without its newline (nor a BOM), when it
	// was read whole (not for a line over the limit): a stage that reads
	// more than records (hashr-lookup reads bare hashes too) looks at it.
	Text []byte
}

func (e *LineError) Error() string { return e.Where + ": " + e.Err.Error() }
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads NDJSON records from a stream, each line of at most a limit
// of bytes (DefaultMaxLine unless SetMaxLine says otherwise). Blank lines
// are skipped.
type Reader struct {
	name  string
	in    io.Reader
	lines *LineReader
	max   int
}

// NewReader reads records from r; name ("stdin" or a file name) prefixes
// the line numbers in errors.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{name: name, in: r}
}

// SetMaxLine sets the longest line read, before the first call to Next.
func (r *Reader) SetMaxLine(max int) { r.max = max }

// utf8BOM starts some files written on Windows; it is no part of the
// first line.
var utf8BOM = []byte("\xef\xbb\xbf")

// Next returns the next record. At the end of input it returns io.EOF. A
// line that is not a JSON object with a string "type", or not UTF-8, or
// over the limit, gives a *LineError, after which Next may be called again
// for the following line. Any other error is a failure to read the stream.
func (r *Reader) Next() (*Raw, error) {
	if r.lines == nil {
		r.lines = NewLineReader(r.in, r.max)
	}
	for {
		line, err := r.lines.Next()
		var tooLong *TooLongError
		if errors.As(err, &tooLong) {
			return nil, &LineError{Where: r.where(), Err: err}
		}
		if err != nil {
			return nil, err
		}
		if r.lines.Line() == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		whole := line
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		line = bytes.Clone(line) // the line reader's buffer is reused
		if err := CheckUTF8(line); err != nil {
			return nil, &LineError{Where: r.where(), Err: err, Text: bytes.Clone(whole)}
		}
		raw := &Raw{Line: line}
		if typ, ok := scanType(line, &raw.index); ok {
			// Fields are decoded when needed, from the members the scan found.
			raw.Type, raw.Where = typ, r.where()
			raw.index.indexed(line)
			return raw, nil
		}
		// The slow way, for the exact error.
		var fields map[string]json.RawMessage
		if jerr := json.Unmarshal(line, &fields); jerr != nil {
			return nil, &LineError{Where: r.where(), Err: describeSyntax(jerr, line), Text: bytes.Clone(whole)}
		}
		typ, terr := typeOf(fields)
		if terr != nil {
			return nil, &LineError{Where: r.where(), Err: terr, Text: bytes.Clone(whole)}
		}
		return &Raw{Type: typ, Line: line, Where: r.where(), fields: fields}, nil
	}
}

// where is "NAME:LINE", built in one allocation: fmt.Sprintf's were three
// of the reader's allocations per record.
func (r *Reader) where() string {
	var buf [128]byte
	b := append(buf[:0], r.name...)
	b = append(b, ':')
	return string(strconv.AppendInt(b, r.lines.Line(), 10))
}

// CheckUTF8 says where a line stops being UTF-8: records are UTF-8, and a
// stage that passed such a line on would write a stream that is not.
func CheckUTF8(line []byte) error {
	if utf8.Valid(line) {
		return nil
	}
	at := 0
	for at < len(line) {
		r, size := utf8.DecodeRune(line[at:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		at += size
	}
	return fmt.Errorf("not UTF-8: byte %d is 0x%02x (records are UTF-8; a name that is not goes in path_raw)", at, line[at])
}

// scanType returns the "type" of a line that is a JSON object with a
// non-empty string type, in one scan of the line (Members): decoding every
// line into a map of its fields was most of the time a stage that passes
// records on spent reading them. ok is false for any other line. When
// index is not nil it is given the members' offsets.
func scanType(line []byte, index *memberIndex) (typ string, ok bool) {
	var raw []byte
	s := scanner{data: line, index: index}
	if err := s.object(func(name, value []byte) bool {
		if string(name) == "type" {
			raw = value // a slice of line; the last one counts, as when decoding
		}
		return true
	}); err != nil || raw == nil {
		return "", false
	}
	// A type of plain ASCII is its bytes, and one of the contract's is the
	// constant: decoding it with encoding/json (a map and a reflective
	// decode) was the reader's largest cost per record after the scan.
	if raw[0] == '"' { // a whole string token: both quotes are there
		if inner := raw[1 : len(raw)-1]; len(inner) > 0 && plainASCII(inner) {
			return knownType(inner), true
		}
	}
	typ, err := typeOf(map[string]json.RawMessage{"type": raw})
	return typ, err == nil
}

// knownType is the record type named by b, a constant (no allocation) for
// the contract's types.
func knownType(b []byte) string {
	switch string(b) {
	case TypeFile:
		return TypeFile
	case TypeSource:
		return TypeSource
	case TypeEnd:
		return TypeEnd
	case TypeError:
		return TypeError
	case TypePlan:
		return TypePlan
	}
	return string(b)
}

func describeSyntax(err error, line []byte) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %w (at byte %d)", ErrNotObject, se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%w: the line holds a JSON %s", ErrNotObject, te.Value)
	}
	return fmt.Errorf("%w: %w", ErrNotObject, err)
}

// Writer writes NDJSON records. Records are collected in a buffer that only
// ever holds whole records, and each write to the underlying stream carries
// whole records, so a reader downstream never sees half of one even when
// this process dies between writes. A buffered record reaches the stream
// within FlushDelay, on Flush, or when the buffer fills. Safe for use by
// several goroutines.
type Writer struct {
	mu    sync.Mutex
	w     io.Writer
	buf   bytes.Buffer
	err   error
	timer *time.Timer
}

// FlushDelay bounds how long a record may wait in a Writer's buffer, so a
// slow stage downstream still gets its input promptly.
const FlushDelay = 100 * time.Millisecond

const writerBufferSize = 64 << 10

// NewWriter writes records to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write encodes one typed record.
func (w *Writer) Write(rec Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := appendRecord(&w.buf, rec); err != nil {
		return err // the buffer holds only whole records still
	}
	w.buf.WriteByte('\n')
	return w.afterAppend()
}

// WriteRaw writes a record exactly as it was read.
func (w *Writer) WriteRaw(r *Raw) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.buf.Write(r.Line)
	w.buf.WriteByte('\n')
	return w.afterAppend()
}

func (w *Writer) afterAppend() error {
	if w.buf.Len() >= writerBufferSize {
		return w.flushLocked()
	}
	if w.timer == nil {
		w.timer = time.AfterFunc(FlushDelay, func() { _ = w.Flush() })
	}
	return nil
}

// Flush writes every buffered record to the underlying stream.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if w.err != nil || w.buf.Len() == 0 {
		return w.err
	}
	_, err := w.w.Write(w.buf.Bytes())
	w.buf.Reset()
	if err != nil {
		w.err = fmt.Errorf("writing records: %w", err)
	}
	return w.err
}
