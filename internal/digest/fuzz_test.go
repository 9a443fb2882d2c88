package digest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The fuzz targets check, for any input, that the fuzzy hashes are well
// formed and do not depend on how the input is split into writes. With
// HASHR_FUZZ_REFERENCE=1 they also check each input against the reference
// tools (ssdeep, tlsh), which is a hundred times slower but finds any input
// on which we differ from them:
//
//	go test -fuzz FuzzSpamsum ./internal/digest
//	HASHR_FUZZ_REFERENCE=1 go test -fuzz FuzzTLSH ./internal/digest
//
// Seeds are in testdata/fuzz/.

var (
	ssdeepForm = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9+/]{0,64}:[A-Za-z0-9+/]{0,32}$`)
	tlshForm   = regexp.MustCompile(`^([0-9A-F]{70})?$`)
)

// referenceOutput runs a reference tool on data in a temporary file and
// returns what it prints, or false when HASHR_FUZZ_REFERENCE is not set.
func referenceOutput(t *testing.T, tool string, data []byte, args ...string) (string, bool) {
	if os.Getenv("HASHR_FUZZ_REFERENCE") == "" {
		return "", false
	}
	path := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, append(args, path)...).Output()
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return string(out), true
}

func splitWrites(w interface{ Write([]byte) (int, error) }, data []byte, split uint16) {
	k := int(split) % (len(data) + 1)
	w.Write(data[:k])
	w.Write(data[k:])
}

func FuzzSpamsum(f *testing.F) {
	f.Add([]byte(""), uint16(0))
	f.Add([]byte("hello\n"), uint16(3))
	f.Add(bytes.Repeat([]byte("abcdefgh"), 600), uint16(1000))
	f.Add(append(randomBytes(9, 3000), make([]byte, 8)...), uint16(77))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		whole := NewSpamsum()
		whole.Write(data)
		sum := whole.Sum()
		if !ssdeepForm.MatchString(sum) {
			t.Fatalf("malformed ssdeep %q", sum)
		}
		pieces := NewSpamsum()
		splitWrites(pieces, data, split)
		if got := pieces.Sum(); got != sum {
			t.Fatalf("split at %d: %q, whole: %q", split, got, sum)
		}
		if out, ok := referenceOutput(t, "ssdeep", data, "-s", "-b"); ok {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			want, _, _ := strings.Cut(lines[len(lines)-1], ",")
			if sum != want {
				t.Fatalf("ssdeep %q, the ssdeep tool says %q", sum, want)
			}
		}
	})
}

func FuzzTLSH(f *testing.F) {
	f.Add([]byte(""), uint16(0))
	f.Add(randomBytes(3, 256), uint16(5))
	f.Add(bytes.Repeat([]byte("ab"), 300), uint16(1))
	f.Add([]byte(strings.Repeat("the quick brown fox jumps over the lazy dog\n", 20)), uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		whole := NewTLSH()
		whole.Write(data)
		sum := whole.Sum()
		if !tlshForm.MatchString(sum) {
			t.Fatalf("malformed tlsh %q", sum)
		}
		pieces := NewTLSH()
		splitWrites(pieces, data, split)
		if got := pieces.Sum(); got != sum {
			t.Fatalf("split at %d: %q, whole: %q", split, got, sum)
		}
		if out, ok := referenceOutput(t, "tlsh", data, "-f"); ok {
			want, _, _ := strings.Cut(out, "\t")
			if sum != want {
				t.Fatalf("tlsh %q, the tlsh tool says %q", sum, want)
			}
		}
	})
}
