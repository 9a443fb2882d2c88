package decompress

import (
	"bytes"
	"crypto/rand"
	"io"
	"os/exec"
	"testing"
)

func xzCompress(t *testing.T, data []byte) []byte {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz is not installed")
	}
	cmd := exec.Command("xz", "-6", "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// NewSmallReader decodes a small xz stream (xz -6 asks for an 8 MiB
// dictionary) in this process, exactly; a stream whose matches reach
// further back than its 1 MiB dictionary (1.5 MiB of random bytes, twice)
// fails: it is never decoded wrong.
func TestSmallReaderDictionary(t *testing.T) {
	small := bytes.Repeat([]byte("Package: x\nVersion: 1\n"), 100)
	far := make([]byte, 3<<19)
	rand.Read(far)
	far = append(far, far...)
	for _, c := range []struct {
		name    string
		data    []byte
		mayFail bool
	}{{"small", small, false}, {"matches 1.5 MiB back", far, true}} {
		z := xzCompress(t, c.data)
		if dict, _, ok := lzma2Dict(z[12 : 12+int(z[12])*4+4]); !ok || dict <= smallDict {
			t.Fatalf("%s: xz -6 asks for a %d-byte dictionary: the test proves nothing", c.name, dict)
		}
		r, err := NewSmallReader(XZ, bytes.NewReader(z))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := io.ReadAll(r)
		switch {
		case err != nil && !c.mayFail:
			t.Errorf("%s: %v", c.name, err)
		case err == nil && !bytes.Equal(got, c.data):
			t.Errorf("%s: decoded %d bytes, not the %d compressed", c.name, len(got), len(c.data))
		case err == nil && c.mayFail:
			t.Errorf("%s: decoded with a 1 MiB dictionary: the test proves nothing", c.name)
		}
	}
}
