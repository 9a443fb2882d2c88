package cli_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/bloom/dcso"
	"github.com/hashr-dev/hashr/internal/export"
	"github.com/hashr-dev/hashr/internal/load"
)

// hashr-export --format dcso-bloom over a set built by the real pipeline:
// read back as DCSO's format (the reader whose bytes match a filter DCSO's
// own code wrote, internal/bloom/dcso), every sample is in it as
// hashlookup asks (upper-case hex), with no false negatives, and random
// absent keys are found at no more than twice the stated rate.
func TestExportDCSOBloom(t *testing.T) {
	fx := newExportFixture(t)
	url := "sqlite:" + filepath.Join(fx.work, "hashr.db")
	stage(t, load.Main, fx.stream, "--quiet", "--db", url)
	const rate, probes = 0.01, 20_000
	for _, algo := range []string{"", "md5", "sha256"} { // "": hashlookup's default, sha1
		path := filepath.Join(fx.work, "set"+algo+".bloom")
		args := []string{"--quiet", "--db", url, "--format", "dcso-bloom", "--fp-rate", "0.01", "-o", path}
		if algo != "" {
			args = append(args, "--algo", algo)
		}
		runCmd(t, export.Main, nil, args...)
		f := readDCSO(t, path)
		if f.Capacity() != uint64(len(fx.truth.samples)) || f.Rate() != rate {
			t.Errorf("--algo %q: filter sized for n=%d p=%g, want %d, %g", algo, f.Capacity(), f.Rate(), len(fx.truth.samples), rate)
		}
		for sha256, s := range fx.truth.samples {
			key := map[string]string{"": s.sha1, "md5": s.md5, "sha256": sha256}[algo]
			if !f.Has([]byte(strings.ToUpper(key))) {
				t.Fatalf("--algo %q: false negative: %s (upper case) is not in the filter", algo, key)
			}
		}
		size := map[string]int{"": 20, "md5": 16, "sha256": 32}[algo]
		fp := 0
		for range probes {
			key := make([]byte, size)
			rand.Read(key)
			if f.Has(dcso.HexKey(key)) {
				fp++
			}
		}
		measured := float64(fp) / probes
		t.Logf("--algo %q: %d samples, false positives %d of %d absent keys: %g (stated %g)", algo, len(fx.truth.samples), fp, probes, measured, rate)
		if measured > 2*rate {
			t.Errorf("--algo %q: measured false-positive rate %g, over twice the stated %g", algo, measured, rate)
		}
	}
}

// An export that selects nothing still writes a filter that DCSO's
// readers take, which knows nothing.
func TestExportDCSOBloomEmptySet(t *testing.T) {
	fx := newExportFixture(t)
	url := "sqlite:" + filepath.Join(fx.work, "hashr.db")
	stage(t, load.Main, fx.stream, "--quiet", "--db", url)
	path := filepath.Join(fx.work, "empty.bloom")
	runCmd(t, export.Main, nil, "--quiet", "--db", url, "--format", "dcso-bloom", "--repo", "no-such-repo", "-o", path)
	f := readDCSO(t, path)
	if f.Len() != 0 || f.Capacity() != 1 {
		t.Errorf("empty set: N=%d n=%d, want 0 and 1", f.Len(), f.Capacity())
	}
	for _, s := range fx.truth.samples {
		if f.Has([]byte(strings.ToUpper(s.sha1))) {
			t.Fatalf("the empty filter knows %s", s.sha1)
		}
	}
	if f.Has(dcso.HexKey(make([]byte, 20))) || f.Has([]byte(hex.EncodeToString(make([]byte, 20)))) {
		t.Error("the empty filter knows the zero digest")
	}
}

func readDCSO(t *testing.T, path string) *dcso.Filter {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := dcso.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if want := 48 + 8*((f.Bits()+63)/64); uint64(len(data)) != want {
		t.Errorf("%s: %d bytes, want DCSO's 48 + 8·ceil(m/64) = %d", path, len(data), want)
	}
	return f
}
