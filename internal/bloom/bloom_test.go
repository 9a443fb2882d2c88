package bloom

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"
)

func key(i uint64, salt string) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	sum := sha256.Sum256(append([]byte(salt), b[:]...))
	return sum[:]
}

// No false negatives, and a measured false-positive rate within 2x of the
// stated one, at several rates; the filter survives writing and reading.
func TestRates(t *testing.T) {
	const n, probes = 100_000, 400_000
	for _, p := range []float64{0.1, 0.01, 0.001} {
		f, err := New("sha256", n, p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range uint64(n) {
			f.Add(key(i, "in"))
		}
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		g, err := Read(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for i := range uint64(n) {
			if ok, _ := g.Has(key(i, "in")); !ok {
				t.Fatalf("p=%g: false negative for key %d", p, i)
			}
		}
		positives := 0
		for i := range uint64(probes) {
			if ok, _ := g.Has(key(i, "out")); ok {
				positives++
			}
		}
		measured := float64(positives) / probes
		t.Logf("p=%g: m=%d bits (%.2f per key), k=%d, measured %.5f", p, g.M, float64(g.M)/n, g.K, measured)
		if measured > 2*p || measured < p/2 {
			t.Errorf("p=%g: measured false-positive rate %.5f is not within 2x", p, measured)
		}
	}
}

func TestSHA1Keys(t *testing.T) {
	f, _ := New("sha1", 10, 0.01)
	if err := f.Add(make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Add(make([]byte, 32)); err == nil {
		t.Fatal("a 32-byte key was added to a sha1 filter")
	}
	if _, err := New("md5", 10, 0.01); err == nil {
		t.Fatal("an md5 filter was made")
	}
	for _, p := range []float64{0, 1, -1, 2} {
		if _, err := New("sha256", 10, p); err == nil {
			t.Errorf("rate %g accepted", p)
		}
	}
}

// Files that are not filters, or are cut short or lie in their header,
// are refused without reading or allocating what the header claims.
func TestHostileFiles(t *testing.T) {
	f, _ := New("sha256", 1000, 0.01)
	var good bytes.Buffer
	f.WriteTo(&good)
	for name, data := range map[string]string{
		"empty":       "",
		"no newline":  `{"format":"hashr-bloom"`,
		"not json":    "hello\n",
		"other":       `{"format":"other","version":1}` + "\n",
		"version":     `{"format":"hashr-bloom","version":2,"key":"sha256","m":64,"k":1}` + "\n" + strings.Repeat("\x00", 8),
		"huge m":      `{"format":"hashr-bloom","version":1,"key":"sha256","m":18446744073709551615,"k":3}` + "\n",
		"zero k":      `{"format":"hashr-bloom","version":1,"key":"sha256","m":64,"k":0}` + "\n" + strings.Repeat("\x00", 8),
		"bad key":     `{"format":"hashr-bloom","version":1,"key":"md5","m":64,"k":1}` + "\n" + strings.Repeat("\x00", 8),
		"truncated":   good.String()[:good.Len()-10],
		"big claimed": `{"format":"hashr-bloom","version":1,"key":"sha256","m":1099511627776,"k":3}` + "\n" + "short",
	} {
		if _, err := Read(strings.NewReader(data)); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}

func FuzzRead(f *testing.F) {
	g, _ := New("sha256", 10, 0.1)
	var buf bytes.Buffer
	g.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"hashr-bloom","version":1,"key":"sha1","m":64,"k":2}` + "\n\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		filter, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		size, _ := KeySize(filter.Key)
		filter.Has(make([]byte, size))
	})
}
