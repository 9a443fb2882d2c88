package dcso

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
)

// DCSO's own Go code wrote testdata/dcso-test.bloom (n = 1000, p = 1e-6,
// the lines of dcso-test-input.txt): the filter written here for the same
// values is the same file, byte for byte, and reads back with DCSO's own
// test's answers.
func TestSameBytesAsDCSO(t *testing.T) {
	want, err := os.ReadFile("testdata/dcso-test.bloom")
	if err != nil {
		t.Fatal(err)
	}
	input, err := os.ReadFile("testdata/dcso-test-input.txt")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(1000, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(input))
	for sc.Scan() {
		f.Add(sc.Bytes())
	}
	var got bytes.Buffer
	if _, err := f.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("wrote %d bytes that differ from DCSO's %d (header %x, want %x)", got.Len(), len(want), got.Bytes()[:headerSize], want[:headerSize])
	}
	g, err := Read(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"foo", "bar", "baz"} {
		if !g.Has([]byte(v)) {
			t.Errorf("DCSO's filter: %q not found", v)
		}
	}
	for _, v := range []string{"", "12345"} { // DCSO's io_test.go asks the same
		if g.Has([]byte(v)) {
			t.Errorf("DCSO's filter: %q found", v)
		}
	}
	if g.Capacity() != 1000 || g.Rate() != 1e-6 || g.Hashes() != 20 || g.Bits() != 28755 || g.Len() != 3 {
		t.Errorf("DCSO's filter read as n=%d p=%g k=%d m=%d N=%d", g.Capacity(), g.Rate(), g.Hashes(), g.Bits(), g.Len())
	}
}

func sha1Key(i int, salt string) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	sum := sha1.Sum(append([]byte(salt), b[:]...))
	return sum[:]
}

// No false negatives, and a measured false-positive rate within 2x of the
// stated one, at several rates, after writing and reading.
func TestRates(t *testing.T) {
	const n, probes = 50_000, 200_000
	for _, p := range []float64{0.1, 0.01, 0.001} {
		f, err := New(n, p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			f.AddDigest(sha1Key(i, "in"))
		}
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		g, err := Read(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if !g.Has(HexKey(sha1Key(i, "in"))) {
				t.Fatalf("p=%g: false negative for key %d", p, i)
			}
		}
		fp := 0
		for i := range probes {
			if g.Has(HexKey(sha1Key(i, "out"))) {
				fp++
			}
		}
		if rate := float64(fp) / probes; rate > 2*p {
			t.Errorf("p=%g: measured false-positive rate %g, over twice the stated one", p, rate)
		} else {
			t.Logf("p=%g: measured %g (%d of %d absent keys)", p, rate, fp, probes)
		}
	}
}

func TestHexKeyIsUpperCase(t *testing.T) {
	if got := string(HexKey([]byte{0x6f, 0x1c, 0xab, 0x00})); got != "6F1CAB00" {
		t.Errorf("HexKey = %q, want 6F1CAB00", got)
	}
}

func TestHostileRates(t *testing.T) {
	for _, p := range []float64{0, 1, -0.5, 2, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := New(1000, p); err == nil {
			t.Errorf("New(1000, %g) made a filter", p)
		}
	}
	if _, err := New(1e12, 1e-10); err == nil {
		t.Error("New(1e12, 1e-10) made a filter of 48 Tbit")
	}
}

// An empty set still makes a filter DCSO's readers take (they divide by
// n and take values mod m): sized for one value, holding none.
func TestEmptySet(t *testing.T) {
	f, err := New(0, 0.001)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	g, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if g.Capacity() != 1 || g.Bits() == 0 || g.Hashes() == 0 || g.Len() != 0 {
		t.Errorf("empty filter: n=%d m=%d k=%d N=%d", g.Capacity(), g.Bits(), g.Hashes(), g.Len())
	}
	if g.Has(HexKey(sha1Key(1, "x"))) {
		t.Error("an empty filter has a value")
	}
}

func TestReadRefusesBrokenFiles(t *testing.T) {
	good, err := os.ReadFile("testdata/dcso-test.bloom")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(field int, v uint64) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint64(b[8*field:], v)
		return b
	}
	for name, b := range map[string][]byte{
		"empty":        nil,
		"short header": good[:40],
		"truncated":    good[:len(good)-1],
		"version 2":    edit(0, 2),
		"k = 0":        edit(3, 0),
		"k huge":       edit(3, math.MaxUint64), // DCSO's testdata/broken.bloom
		"m = 0":        edit(4, 0),
		"m huge":       edit(4, 1<<62),
	} {
		if _, err := Read(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: read without error", name)
		} else if !strings.Contains(err.Error(), "DCSO") {
			t.Errorf("%s: error %q does not say what was read", name, err)
		}
	}
}
