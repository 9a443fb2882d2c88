package decompress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// xzBinary is the xz program on PATH, or "" to decode in Go. PATH is
// looked up on every stream, so tests (and users) can switch the fast path
// off by taking xz off PATH.
func xzBinary() string {
	path, err := exec.LookPath("xz")
	if err != nil {
		return ""
	}
	return path
}

// UsesXZBinary says whether xz streams are decoded by the xz program.
func UsesXZBinary() bool { return xzBinary() != "" }

// xzProcess decodes an xz stream with the xz program: r goes to its
// stdin, its stdout is the decoded bytes.
type xzProcess struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *cappedBuffer

	mu     sync.Mutex
	waited bool
	err    error
}

func newXZProcess(path string, r io.Reader) (io.ReadCloser, error) {
	stderr := &cappedBuffer{max: 4096}
	// --threads=0: dpkg-deb and xz -T write multi-block streams, which
	// xz decodes on every core (chromium's .deb in half the time).
	cmd := exec.Command(path, "--decompress", "--stdout", "--quiet", "--no-warn", "--threads=0",
		"--memlimit-decompress="+strconv.Itoa(MaxDictSize+(16<<20)))
	cmd.Stdin = r
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("xz: starting %s: %w", path, err)
	}
	return &xzProcess{cmd: cmd, out: out, stderr: stderr}, nil
}

func (x *xzProcess) Read(p []byte) (int, error) {
	n, err := x.out.Read(p)
	if err == io.EOF {
		if werr := x.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// wait reaps the process once and says how it ended.
func (x *xzProcess) wait() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.waited {
		return x.err
	}
	x.waited = true
	if err := x.cmd.Wait(); err != nil {
		var exit *exec.ExitError
		msg := strings.TrimSpace(x.stderr.String())
		if i := strings.Index(msg, "(stdin): "); i >= 0 {
			msg = msg[i+len("(stdin): "):]
		}
		switch {
		case msg != "":
			x.err = errors.New("xz: " + msg)
		case errors.As(err, &exit):
			x.err = fmt.Errorf("xz: %v", err)
		default:
			x.err = fmt.Errorf("xz: %w", err)
		}
	}
	return x.err
}

// Close stops the process if it is still decoding.
func (x *xzProcess) Close() error {
	x.mu.Lock()
	waited := x.waited
	x.mu.Unlock()
	if !waited {
		_ = x.cmd.Process.Kill()
		_ = x.out.Close()
		_ = x.wait()
	}
	return nil
}

// cappedBuffer keeps the first max bytes written to it: enough of an
// error message, never unbounded.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
