package decompress

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"
)

// xzCLI compresses data with the reference xz program and its args.
func xzCLI(t *testing.T, data []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("xz", append([]string{"--compress", "--stdout", "-T1"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz %v: %v", args, err)
	}
	return out
}

// xzAccepts says whether the reference xz takes stream as valid.
func xzAccepts(stream []byte) bool {
	cmd := exec.Command("xz", "--test", "--stdout")
	cmd.Stdin = bytes.NewReader(stream)
	return cmd.Run() == nil
}

// moduleLike is n bytes that compress about as well as a GRUB module:
// code-like, neither zeros nor noise.
func moduleLike(n int) []byte {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		if rng.IntN(4) == 0 {
			b[i] = byte(rng.IntN(256))
		} else {
			b[i] = "\x00\x48\x89\xe5\xc3\x55\x8b\x45"[rng.IntN(8)]
		}
	}
	return b
}

type xzCase struct {
	name   string
	stream []byte
	want   []byte
}

// xzCases are the xz streams the reference xz writes and accepts: tiny,
// empty, every check type, several streams, stream padding.
func xzCases(t *testing.T) []xzCase {
	module := moduleLike(9000)
	text := bytes.Repeat([]byte("hashr decodes every xz stream xz accepts\n"), 200)
	var cases []xzCase
	add := func(name string, want, stream []byte) {
		cases = append(cases, xzCase{name, stream, want})
	}
	add("empty", nil, xzCLI(t, nil))
	add("one byte", []byte("a"), xzCLI(t, []byte("a")))
	for _, check := range []string{"none", "crc32", "crc64", "sha256"} {
		add("module check "+check, module, xzCLI(t, module, "--check="+check))
		add("empty check "+check, nil, xzCLI(t, nil, "--check="+check))
		add("tiny check "+check, []byte("x\n"), xzCLI(t, []byte("x\n"), "--check="+check))
	}
	add("two streams", append(bytes.Clone(module), text...),
		append(xzCLI(t, module, "--check=none"), xzCLI(t, text, "--check=crc64")...))
	add("empty then tiny", []byte("x"), append(xzCLI(t, nil), xzCLI(t, []byte("x"))...))
	pad := make([]byte, 8)
	add("padding after", module, append(xzCLI(t, module, "--check=none"), pad...))
	add("padding between", append(bytes.Clone(text), text...),
		append(append(xzCLI(t, text), pad[:4]...), xzCLI(t, text)...))
	add("several blocks", text, xzCLI(t, text, "--block-size=1000", "--check=crc32"))
	add("extreme preset", module, xzCLI(t, module, "-9e", "--check=sha256"))
	for _, c := range cases {
		if !xzAccepts(c.stream) {
			t.Fatalf("%s: xz --test rejects the case built for it", c.name)
		}
	}
	return cases
}

// Every xz stream the reference xz accepts decodes through each decoder
// (7zz, xz, Go) to the same bytes, read whole or a few bytes at a time,
// and a read after the end says io.EOF again, never an error: GRUB's
// modules (4 KiB streams with check NONE) failed through the programs
// with "read |0: file already closed".
func TestXZStreamsEveryDecoder(t *testing.T) {
	cases := xzCases(t)
	for _, programs := range xzDecoders {
		onlyOnPath(t, programs...)
		decoder := fmt.Sprint(programs)
		for _, c := range cases {
			for _, readSize := range []int{1 << 16, 7} {
				got, err := readXZ(c.stream, readSize)
				if err != nil {
					t.Errorf("%s, decoder %s, reads of %d: %v", c.name, decoder, readSize, err)
					continue
				}
				if !bytes.Equal(got, c.want) {
					t.Errorf("%s, decoder %s, reads of %d: %d bytes, want %d", c.name, decoder, readSize, len(got), len(c.want))
				}
			}
		}
	}
}

// readXZ decodes stream the way hashr-extract reads a member: through a
// bufio.Reader that peeks at its head, in reads of readSize, then once
// more after the end.
func readXZ(stream []byte, readSize int) ([]byte, error) {
	r, err := NewReader(XZ, bytes.NewReader(stream))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	br := bufio.NewReaderSize(r, 16)
	if _, err := br.Peek(16); err != nil && err != io.EOF {
		return nil, fmt.Errorf("peeking: %w", err)
	}
	var out bytes.Buffer
	buf := make([]byte, readSize)
	for {
		n, err := br.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	for range 2 {
		if n, err := r.Read(buf); n != 0 || err != io.EOF {
			return nil, fmt.Errorf("a read after the end: %d bytes, %v (want 0, EOF)", n, err)
		}
	}
	return out.Bytes(), nil
}
