package decompress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// An xzProgram decodes an xz stream from its stdin to its stdout.
type xzProgram struct {
	name string
	args []string
	// message is the reason for a failure in what the program wrote to
	// stderr, or "".
	message func(stderr string) string
}

// xzPrograms are the programs tried, the preferred first. 7-Zip's decoder
// (Debian's 7zip package) took a third less CPU than xz's on the Debian
// packages of bench/, and both decode the multi-block streams dpkg-deb and
// xz -T write on every core (chromium's .deb in half the time).
var xzPrograms = []xzProgram{
	{
		name: "7zz",
		// -bso0 -bsp0: no banner or progress; -bse2: errors on stderr.
		// 7-Zip has no hard memory limit for decoding (-mmemuse only
		// lowers its threads): the first block's dictionary is checked
		// before it starts, and a sandboxed parser's rlimits bound it.
		args: []string{"x", "-si", "-so", "-txz", "-bso0", "-bsp0", "-bse2", "-y"},
		message: func(stderr string) string {
			var reasons []string
			for _, line := range strings.Split(stderr, "\n") {
				if reason, ok := strings.CutPrefix(strings.TrimSpace(line), "ERROR: "); ok {
					reasons = append(reasons, strings.TrimSuffix(reason, " : ~"))
				}
			}
			return strings.Join(reasons, "; ")
		},
	},
	{
		name: "xz",
		args: []string{"--decompress", "--stdout", "--quiet", "--no-warn", "--threads=0",
			"--memlimit-decompress=" + strconv.Itoa(MaxDictSize+(16<<20))},
		message: func(stderr string) string {
			msg := strings.TrimSpace(stderr)
			if i := strings.Index(msg, "(stdin): "); i >= 0 {
				msg = msg[i+len("(stdin): "):]
			}
			return msg
		},
	},
}

// findXZProgram is the first of xzPrograms on PATH, or nil to decode in
// Go. PATH is looked up on every stream, so tests (and users) can choose
// by what PATH holds.
func findXZProgram() (*xzProgram, string) {
	for i := range xzPrograms {
		if path, err := exec.LookPath(xzPrograms[i].name); err == nil {
			return &xzPrograms[i], path
		}
	}
	return nil, ""
}

// XZProgram names the program that decodes xz streams, or is "" when they
// are decoded in Go.
func XZProgram() string {
	if prog, _ := findXZProgram(); prog != nil {
		return prog.name
	}
	return ""
}

// xzProcess decodes an xz stream with an xzProgram: r goes to its stdin,
// its stdout is the decoded bytes.
//
// The process's stdout is a pipe of our own (not cmd.StdoutPipe, which
// cmd.Wait closes): it is read to its end before the process is waited
// for, and stays open until Close, so a read after the end says io.EOF
// again instead of "file already closed". GRUB's modules, xz streams of a
// few KiB, failed that way: bufio and the checksum drain read once more
// after the end.
type xzProcess struct {
	prog   *xzProgram
	cmd    *exec.Cmd
	out    *os.File
	stderr *cappedBuffer

	mu     sync.Mutex
	waited bool
	err    error // how the process ended, once waited
	done   error // what every read after the end returns
}

func newXZProcess(prog *xzProgram, path string, r io.Reader) (io.ReadCloser, error) {
	r, err := checkXZDict(r, 0)
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	stderr := &cappedBuffer{max: 4096}
	cmd := exec.Command(path, prog.args...)
	cmd.Stdin = r
	cmd.Stdout = pw
	cmd.Stderr = stderr
	err = cmd.Start()
	pw.Close() // the child holds its own copy: EOF comes when it exits
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("xz: starting %s: %w", path, err)
	}
	return &xzProcess{prog: prog, cmd: cmd, out: pr, stderr: stderr}, nil
}

func (x *xzProcess) Read(p []byte) (int, error) {
	if x.done != nil {
		return 0, x.done
	}
	n, err := x.out.Read(p)
	if err == io.EOF {
		// All the output is read: only now is the process waited for.
		if werr := x.wait(); werr != nil {
			err = werr
		}
	}
	if err != nil {
		x.done = err
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
		msg := x.prog.message(x.stderr.String())
		switch {
		case msg != "":
			x.err = fmt.Errorf("xz (%s): %s", x.prog.name, msg)
		case errors.As(err, &exit):
			x.err = fmt.Errorf("xz (%s): %v", x.prog.name, err)
		default:
			x.err = fmt.Errorf("xz: %w", err)
		}
	}
	return x.err
}

// Close stops the process if it is still decoding, and releases its
// output.
func (x *xzProcess) Close() error {
	x.mu.Lock()
	waited := x.waited
	x.mu.Unlock()
	if !waited {
		_ = x.cmd.Process.Kill()
		// Closing the output too ends a process the signal did not
		// reach (inside the sandbox, a kill can be refused): its next
		// write fails, and Wait returns.
		x.out.Close()
		_ = x.wait()
	}
	x.out.Close()
	x.done = errClosed
	return nil
}

var errClosed = errors.New("xz: read after Close")

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
