package records

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLine is the longest input line a stage reads by default: far
// above any real record (a file record is well under 1 KiB), far below what
// would let one line take the machine's memory.
const DefaultMaxLine = 16 << 20

// LineReader reads the lines of a stream, each of at most a limit of
// bytes, in memory bounded by that limit whatever the input holds: a
// longer line is skipped to its newline and reported as a *TooLongError,
// after which reading goes on with the next line. It is the one line
// reader of every stage (records, hash lists, a sandbox child's output).
type LineReader struct {
	r    *bufio.Reader
	max  int
	line int64
	buf  []byte
	// unterminated: the last line ended the input without a newline.
	unterminated bool
}

// lineBufferSize is the bufio buffer: big enough that most lines come
// back as a slice of it, without a copy.
const lineBufferSize = 256 << 10

// NewLineReader reads lines of at most max bytes (without the newline)
// from r; max <= 0 means DefaultMaxLine.
func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &LineReader{r: bufio.NewReaderSize(r, min(lineBufferSize, max+1)), max: max}
}

// TooLongError is a line over the limit. Its bytes were skipped.
type TooLongError struct {
	Line  int64 // its number, from 1
	Limit int
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("line longer than the limit of %s: skipped (the limit is set with --max-line)", FormatBytes(int64(e.Limit)))
}

// Next returns the next line without its newline (nor a "\r" before it),
// valid only until the following call. A last line without a newline is
// returned too (Unterminated then says so), and io.EOF comes after it. A
// line over the limit gives a *TooLongError, and Next may be called
// again. Any other error is a failure to read the stream.
func (l *LineReader) Next() ([]byte, error) {
	l.buf = l.buf[:0]
	tooLong := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		end := err == nil || errors.Is(err, io.EOF) && (len(chunk) > 0 || len(l.buf) > 0 || tooLong)
		length := len(l.buf) + len(chunk)
		if err == nil {
			length-- // the newline
		}
		if !tooLong && length > l.max {
			tooLong, l.buf = true, l.buf[:0] // from here on, the line's bytes are dropped as read
		}
		switch {
		case end:
			l.line++
			l.unterminated = err != nil
			if tooLong {
				return nil, &TooLongError{Line: l.line, Limit: l.max}
			}
			line := chunk
			if len(l.buf) > 0 {
				l.buf = append(l.buf, chunk...)
				line = l.buf
			}
			return trimNewline(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			if !tooLong {
				l.buf = append(l.buf, chunk...)
			}
		default:
			return nil, err
		}
	}
}

// Unterminated says whether the line Next returned last ended the input
// without a newline.
func (l *LineReader) Unterminated() bool { return l.unterminated }

// Line is the number of the line Next returned last, from 1.
func (l *LineReader) Line() int64 { return l.line }

// Buffered says how many bytes of input are read and not yet returned.
func (l *LineReader) Buffered() int { return l.r.Buffered() }

func trimNewline(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line
}

// FormatBytes writes a byte count for people: "16 MiB", "1536 KiB", "100 bytes".
func FormatBytes(n int64) string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.suffix)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
