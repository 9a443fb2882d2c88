package digest

import (
	"bufio"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestTLSHLengthClasses checks the length class of every input length
// against the boundaries the reference library itself gives
// (testdata/tlsh-length-classes.sh). tlshLength is monotonic between the
// places its formula changes, so agreeing on both sides of every reference
// boundary, and at the formula's own seams, is agreeing everywhere.
func TestTLSHLengthClasses(t *testing.T) {
	f, err := os.Open("testdata/tlsh-length-classes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var starts []uint64
	var classes []byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		n, l, _ := strings.Cut(sc.Text(), " ")
		nn, err1 := strconv.ParseUint(n, 10, 64)
		ll, err2 := strconv.ParseUint(l, 10, 8)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		starts = append(starts, nn)
		classes = append(classes, byte(ll))
	}
	if len(starts) < 100 {
		t.Fatalf("only %d boundaries read", len(starts))
	}
	reference := func(n uint64) byte {
		i := sort.Search(len(starts), func(i int) bool { return starts[i] > n })
		return classes[i-1]
	}
	check := []uint64{656, 657, 3199, 3200, 1<<32 - 1}
	for _, s := range starts {
		check = append(check, s-1, s)
	}
	for _, n := range check {
		if n == 0 {
			continue
		}
		if got, want := tlshLength(uint32(n)), reference(n); got != want {
			t.Errorf("length %d: class %d, the reference says %d", n, got, want)
		}
	}
}
