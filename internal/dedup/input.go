package dedup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
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
	var c *chunk
	take := func() bool {
		select {
		case c = <-free:
			c.reset()
			return true
		case <-ctx.Done():
			return false
		}
	}
	send := func() bool {
		select {
		case full <- c:
			c = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !take() {
		return
	}
	for _, name := range inputs {
		in, display, closeIn, err := openInput(p, name)
		if err != nil {
			p.Failf("%v", err)
			continue
		}
		r := bufio.NewReaderSize(in, 1<<20)
		var lineNo int64
		for {
			text, rerr := readLine(r)
			if len(text) > 0 || rerr == nil {
				lineNo++
				if text = bytes.TrimSpace(text); len(text) > 0 {
					start := time.Now()
					at := len(c.buf)
					c.buf = append(c.buf, text...)
					// The line's capacity ends where it does: see valueOffset.
					c.lines = append(c.lines, parseLine(c.buf[at:len(c.buf):len(c.buf)], display, lineNo))
					c.parse += time.Since(start)
				}
			}
			if rerr != nil && !errors.Is(rerr, io.EOF) {
				c.err = fmt.Errorf("reading %s: %w", display, rerr)
				closeIn()
				send()
				return
			}
			if rerr != nil || len(c.lines) >= chunkRecords || r.Buffered() == 0 && len(c.lines) > 0 {
				if len(c.lines) > 0 {
					if !send() || !take() {
						closeIn()
						return
					}
				}
			}
			if rerr != nil {
				break
			}
		}
		closeIn()
	}
	if len(c.lines) > 0 {
		send()
	}
}

// readLine returns the next line without its newline, however long.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	buf := bytes.Clone(line)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = r.ReadSlice('\n')
		buf = append(buf, line...)
	}
	return bytes.TrimSuffix(buf, []byte{'\n'}), err
}

func openInput(p *cli.Program, name string) (io.Reader, string, func(), error) {
	if name == "-" {
		return p.Stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", nil, fmt.Errorf("opening input %q: %w", name, cli.Cause(err))
	}
	return f, name, func() { f.Close() }, nil
}
