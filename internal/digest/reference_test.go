package digest

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The fuzzy hashes are checked against the reference tools, Debian's
// ssdeep and tlsh-tools packages (.ci/install-deps.txt). Without them the
// test is skipped, unless $CI is set: there they must be installed.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; CI installs it from .ci/install-deps.txt", name)
		}
		t.Skipf("%s is not installed (Debian package ssdeep / tlsh-tools)", name)
	}
}

// drawBytes is n random bytes drawn from rng.
func drawBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// alphabetBytes is n bytes drawn from rng out of alphabet.
func alphabetBytes(rng *rand.Rand, n int, alphabet string) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

// addTLSHBucketInputs adds, as buckets-N, an input over three random byte
// values whose TLSH fills N buckets, for N from 62 to 67: either side of
// the half-empty line below which TLSH refuses an input.
func addTLSHBucketInputs(rng *rand.Rand, in map[string][]byte) {
	for want := 62; want <= 67; want++ {
		for range 20_000 {
			alphabet := string([]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			b := alphabetBytes(rng, 256+rng.IntN(400), alphabet)
			t := NewTLSH()
			t.Write(b)
			nonzero := 0
			for _, c := range t.buckets[:tlshBuckets] {
				if c > 0 {
					nonzero++
				}
			}
			if nonzero == want {
				in[fmt.Sprintf("buckets-%d", want)] = b
				break
			}
		}
	}
}

// edgeInputs are made-up inputs at the edges of both algorithms: around
// the lengths where they change behaviour, with too little variety, ending
// in runs of zeros (spamsum's rolling hash is then 0), and with repeats.
func edgeInputs() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte { return drawBytes(rng, n) }
	fromAlphabet := func(n int, alphabet string) []byte { return alphabetBytes(rng, n, alphabet) }
	in := map[string][]byte{}
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 50, 100, 200, 255, 256, 257, 300, 511, 512, 513,
		656, 657, 1000, 3199, 3200, 4095, 4096, 4097, 8191, 8192, 12289, 65536, 100_000, 196_608, 196_609, 1<<20 + 3, 5 << 20} {
		in[fmt.Sprintf("random-%d", n)] = random(n)
		in[fmt.Sprintf("zeros-%d", n)] = make([]byte, n)
		in[fmt.Sprintf("text-%d", n)] = fromAlphabet(n, "etaoin shrdlu\n")
		in[fmt.Sprintf("tail0-%d", n)] = append(random(n), make([]byte, 8)...)
	}
	for _, n := range []int{256, 300, 1000, 5000, 40_000} {
		for _, alphabet := range []string{"ab", "abc", "abcd", "abcdefgh", "\x00\xff"} {
			in[fmt.Sprintf("alpha%d-%d", len(alphabet), n)] = fromAlphabet(n, alphabet)
		}
		in[fmt.Sprintf("repeat-%d", n)] = bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
	}
	// Ending in zeros leaves spamsum's rolling hash at 0, and then the last
	// character comes from the last trigger; one time in 64 it is 'A',
	// which glaslos/ssdeep v0.4.0 drops.
	for i := range 300 {
		in[fmt.Sprintf("endzeros-%d", i)] = append(random(2000+rng.IntN(30_000)), make([]byte, 7+rng.IntN(3))...)
	}
	// TLSH refuses an input whose buckets are half empty or more: inputs
	// over three random byte values land on either side of that line.
	addTLSHBucketInputs(rng, in)
	// Zero runs in the middle reset spamsum's pieces in odd places; long
	// runs of one byte make the same signature character again and again.
	for i := range 40 {
		var b []byte
		for len(b) < 20_000+i*3000 {
			b = append(b, random(rng.IntN(300))...)
			b = append(b, make([]byte, rng.IntN(40))...)
			b = append(b, bytes.Repeat([]byte{byte(rng.IntN(4))}, rng.IntN(200))...)
		}
		in[fmt.Sprintf("mixed-%d", i)] = b
	}
	return in
}

// realFiles picks about n regular files of up to maxSize bytes from the
// system's own trees, spread over them, in a fixed order.
func realFiles(t *testing.T, n int, maxSize int64) []string {
	t.Helper()
	var all []string
	//lint:ignore SA1019 a test binary runs where go test built it, so the GOROOT it was built with is there
	roots := []string{"/usr/bin", "/usr/share", "/usr/lib", runtime.GOROOT()}
	for _, root := range roots {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable directories are left out
			}
			if d.Type().IsRegular() && !strings.ContainsAny(path, "\"\\\n\t,") {
				if info, err := d.Info(); err == nil && info.Size() <= maxSize {
					all = append(all, path)
				}
			}
			return nil
		})
	}
	if len(all) <= n {
		return all
	}
	var picked []string
	step := float64(len(all)) / float64(n)
	for i := range n {
		picked = append(picked, all[int(float64(i)*step)])
	}
	return picked
}

// writeCorpus copies the edge inputs and the real files into a fresh
// directory under simple names, and returns it with each name's bytes.
func writeCorpus(t *testing.T, real []string) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	files := edgeInputs()
	for i, path := range real {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // unreadable to this user: not a fixture
		}
		files[fmt.Sprintf("real-%05d", i)] = b
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

// ssdeepCLI runs `ssdeep -s -r DIR` and returns each file's hash by name.
func ssdeepCLI(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := exec.Command("ssdeep", "-s", "-r", dir).Output()
	if err != nil {
		t.Fatalf("ssdeep -r %s: %v", dir, err)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ssdeep,") {
			continue // the header
		}
		sum, quoted, ok := strings.Cut(line, ",")
		if !ok {
			t.Fatalf("ssdeep printed %q", line)
		}
		sums[filepath.Base(strings.Trim(quoted, `"`))] = sum
	}
	return sums
}

// tlshCLI runs `tlsh -r DIR` and returns each file's digest by name; the
// files it refuses ("file too small", "cannot hash") are absent.
func tlshCLI(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := exec.Command("tlsh", "-r", dir).Output()
	if err != nil {
		t.Fatalf("tlsh -r %s: %v", dir, err)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		sum, path, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("tlsh printed %q", sc.Text())
		}
		sums[filepath.Base(path)] = sum
	}
	return sums
}

func TestFuzzyHashesMatchReferenceTools(t *testing.T) {
	requireTool(t, "ssdeep")
	requireTool(t, "tlsh")
	n := 1500
	if testing.Short() {
		n = 100
	}
	dir, files := writeCorpus(t, realFiles(t, n, 32<<20))
	wantSSDEEP := ssdeepCLI(t, dir)
	wantTLSH := tlshCLI(t, dir)
	if len(wantSSDEEP) != len(files) {
		t.Fatalf("ssdeep hashed %d files of %d", len(wantSSDEEP), len(files))
	}

	h := New(Set(SSDEEP | TLSH))
	bad := 0
	withTLSH := 0
	for _, name := range slices.Sorted(mapKeys(files)) {
		h.Reset()
		h.ReadFrom(bytes.NewReader(files[name]))
		got := h.Sum()
		if got.SSDEEP != wantSSDEEP[name] {
			t.Errorf("%s (%d bytes): ssdeep %q, the ssdeep tool says %q", name, len(files[name]), got.SSDEEP, wantSSDEEP[name])
			bad++
		}
		if got.TLSH != wantTLSH[name] {
			t.Errorf("%s (%d bytes): tlsh %q, the tlsh tool says %q", name, len(files[name]), got.TLSH, wantTLSH[name])
			bad++
		}
		if got.TLSH != "" {
			withTLSH++
		}
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
	t.Logf("%d inputs compared, %d with a TLSH value", len(files), withTLSH)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
