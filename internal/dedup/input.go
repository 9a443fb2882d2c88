package dedup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

// chunkRecords is how many records a chunk holds at most: enough to make a
// store lookup pass and a commit worth it, few enough to keep memory small.
const chunkRecords = 8192

// chunk is a run of input lines, parsed, that the store handles at once.
type chunk struct {
	buf   []byte // the lines' bytes
	lines []line
	// parse is the time spent reading and parsing the chunk.
	parse time.Duration
	err   error // a failure to read the input: the last chunk
}

func (c *chunk) reset() {
	c.buf, c.lines, c.parse, c.err = c.buf[:0], c.lines[:0], 0, nil
}

// readChunks reads the inputs (stdin when there are none, "-" too) on its
// own goroutine and sends their lines in chunks; a chunk is sent when full
// or when the input has nothing more ready, so records never wait for a
// slow producer upstream. Chunks come back on free for reuse. Bad lines and
// unreadable files are reported and counted as they come.
func readChunks(ctx context.Context, p *cli.Program, inputs []string, full chan<- *chunk, free <-chan *chunk) {
	defer close(full)
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	cr := &chunkReader{ctx: ctx, p: p, full: full, free: free}
	if !cr.take() {
		return
	}
	for _, name := range inputs {
		if !cr.readInput(name) {
			return
		}
	}
	if len(cr.c.lines) > 0 {
		cr.send()
	}
}

// chunkReader fills chunks from the inputs, one after the other.
type chunkReader struct {
	ctx  context.Context
	p    *cli.Program
	c    *chunk // being filled
	full chan<- *chunk
	free <-chan *chunk
}

// take starts filling a free chunk; false when the run is cancelled.
func (cr *chunkReader) take() bool {
	select {
	case cr.c = <-cr.free:
		cr.c.reset()
		return true
	case <-cr.ctx.Done():
		return false
	}
}

// send hands the chunk over; false when the run is cancelled.
func (cr *chunkReader) send() bool {
	select {
	case cr.full <- cr.c:
		cr.c = nil
		return true
	case <-cr.ctx.Done():
		return false
	}
}

// readInput reads one input's lines into chunks; false when reading must
// stop (cancelled, or the input failed: its error went in the last chunk).
// An input that cannot be opened is reported and skipped.
func (cr *chunkReader) readInput(name string) bool {
	in, display, closeIn, err := cr.p.OpenInput(name)
	if err != nil {
		cr.p.Failf("%v", err)
		return true
	}
	defer closeIn()
	r := records.NewLineReader(in, cr.p.MaxLine)
	for {
		text, rerr := r.Next()
		var tooLong *records.TooLongError
		switch {
		case errors.As(rerr, &tooLong):
			cr.c.lines = append(cr.c.lines, line{kind: kindBad, input: display, lineNo: r.Line(), err: rerr})
		case rerr == nil:
			start := time.Now()
			cr.c.addLine(text, display, r.Line())
			cr.c.parse += time.Since(start)
		case !errors.Is(rerr, io.EOF):
			cr.c.err = fmt.Errorf("reading %s: %w", display, rerr)
			cr.send()
			return false
		}
		eof := errors.Is(rerr, io.EOF)
		// A chunk goes when full, or when the input has nothing more
		// ready: records never wait for a slow producer upstream.
		if n := len(cr.c.lines); n > 0 && (eof || n >= chunkRecords || r.Buffered() == 0) {
			if !cr.send() || !cr.take() {
				return false
			}
		}
		if eof {
			return true
		}
	}
}

// addLine parses one input line into the chunk, keeping its bytes.
func (c *chunk) addLine(text []byte, input string, lineNo int64) {
	if lineNo == 1 {
		text = bytes.TrimPrefix(text, utf8BOM)
	}
	if text = bytes.TrimSpace(text); len(text) == 0 {
		return
	}
	at := len(c.buf)
	c.buf = append(c.buf, text...)
	// The line's capacity ends where it does: see valueOffset.
	text = c.buf[at:len(c.buf):len(c.buf)]
	if err := records.CheckUTF8(text); err != nil {
		c.lines = append(c.lines, line{kind: kindBad, text: text, input: input, lineNo: lineNo, err: err})
		return
	}
	c.lines = append(c.lines, parseLine(text, input, lineNo))
}

// utf8BOM starts some files written on Windows; it is no part of the
// first line.
var utf8BOM = []byte("\xef\xbb\xbf")
