package digest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/hashr-dev/hashr/pkg/records"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Set
	}{
		{"md5,sha1,sha256", Default},
		{"SHA256, md5 ,sha1,md5", Default},
		{"tlsh", Set(TLSH)},
		{"md5,sha1,sha256,sha512,crc32,blake3,ssdeep,tlsh", All},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if again, _ := Parse(got.String()); again != got {
			t.Errorf("Parse(%q.String()) = %v", got, again)
		}
	}
	for _, in := range []string{"", " , ", "md4", "sha256,mime", "sha-256"} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), "valid: md5,sha1,sha256,sha512,crc32,blake3,ssdeep,tlsh") {
			t.Errorf("Parse(%q): error %v, want one naming the valid algorithms", in, err)
		}
	}
}

func randomBytes(seed uint64, n int) []byte {
	return drawBytes(rand.New(rand.NewPCG(seed, seed)), n)
}

// oneShot computes every digest of b with each algorithm's own one-shot
// function, independently of Hasher.
func oneShot(b []byte) Sums {
	m := md5.Sum(b)
	s1 := sha1.Sum(b)
	s256 := sha256.Sum256(b)
	s512 := sha512.Sum512(b)
	b3 := blake3.Sum256(b)
	ss := NewSpamsum()
	ss.Write(b)
	tl := NewTLSH()
	tl.Write(b)
	return Sums{
		Size:   int64(len(b)),
		MD5:    hex.EncodeToString(m[:]),
		SHA1:   hex.EncodeToString(s1[:]),
		SHA256: hex.EncodeToString(s256[:]),
		SHA512: hex.EncodeToString(s512[:]),
		CRC32:  fmt.Sprintf("%08x", crc32.ChecksumIEEE(b)),
		BLAKE3: hex.EncodeToString(b3[:]),
		SSDEEP: ss.Sum(),
		TLSH:   tl.Sum(),
		MIME:   DetectMIME(b),
	}
}

// TestHasherOnePass checks that every way of feeding a Hasher (small
// pieces, ReadFrom with and without lanes, after a Reset) gives what each
// algorithm gives on its own, for lengths around the buffer and slice sizes
// and long enough for ReadFrom to fan out.
func TestHasherOnePass(t *testing.T) {
	forEachEngine(t, testHasherOnePass)
}

func testHasherOnePass(t *testing.T) {
	sizes := []int{0, 1, 255, sliceSize - 1, sliceSize + 1, BufferSize, fanoutAfter + 3*BufferSize + 17}
	h := New(All)
	for _, n := range sizes {
		b := randomBytes(uint64(n), n)
		want := oneShot(b)

		h.Reset()
		rng := rand.New(rand.NewPCG(7, uint64(n)))
		for p := b; len(p) > 0; {
			k := min(len(p), 1+rng.IntN(200_000))
			h.Write(p[:k])
			p = p[k:]
		}
		if got := h.Sum(); got != want {
			t.Errorf("%d bytes written in pieces:\n got %+v\nwant %+v", n, got, want)
		}

		for _, lanes := range []int{1, 2, 3, 8} {
			h.Reset()
			h.lanes = planLanes(h.engines, lanes)
			read, err := h.ReadFrom(bytes.NewReader(b))
			if err != nil || read != int64(n) {
				t.Fatalf("ReadFrom: %d, %v", read, err)
			}
			if got := h.Sum(); got != want {
				t.Errorf("%d bytes read with %d lanes:\n got %+v\nwant %+v", n, lanes, got, want)
			}
		}
	}
}

func TestHasherDefaultSetLeavesOthersEmpty(t *testing.T) {
	h := New(Default)
	h.Write([]byte("hello\n"))
	got := h.Sum()
	want := Sums{
		Size:   6,
		MD5:    "b1946ac92492d2347c6235b4d2611184",
		SHA1:   "f572d396fae9206628714fb2ce00f72e94f2258f",
		SHA256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
		MIME:   "text/plain; charset=utf-8",
	}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestPlanLanes(t *testing.T) {
	for _, pair := range []bool{false, true} {
		saved := useSHAPair
		useSHAPair = pair
		h := New(Default)
		all := New(All)
		useSHAPair = saved

		lanes := planLanes(h.engines, 2)
		var got []string
		for _, lane := range lanes {
			var names []string
			for _, e := range lane {
				names = append(names, e.algos.String())
			}
			got = append(got, strings.Join(names, "+"))
		}
		want, engines := "md5|sha256+sha1", 8
		if pair {
			want, engines = "md5|sha1,sha256", 7
		}
		if strings.Join(got, "|") != want {
			t.Errorf("sha1sha256 %v: lanes %q, want %q", pair, strings.Join(got, "|"), want)
		}
		if planLanes(h.engines, 1) != nil || planLanes(New(Set(MD5)).engines, 4) != nil {
			t.Error("one lane planned where none helps")
		}
		if n := len(planLanes(all.engines, 64)); n != engines {
			t.Errorf("sha1sha256 %v: %d lanes for 8 algorithms and 64 cores, want %d", pair, n, engines)
		}
	}
}

// failingReader yields n bytes, then an error.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

func TestReadFromError(t *testing.T) {
	forEachEngine(t, testReadFromError)
}

func testReadFromError(t *testing.T) {
	boom := errors.New("boom")
	for _, n := range []int{10, multiBufferFrom + 1, fanoutAfter + 2*BufferSize + 5} {
		h := New(Default)
		h.lanes = planLanes(h.engines, 2)
		read, err := h.ReadFrom(&failingReader{bytes.NewReader(make([]byte, n)), boom})
		if !errors.Is(err, boom) || read != int64(n) {
			t.Errorf("%d bytes then an error: ReadFrom = %d, %v", n, read, err)
		}
	}
}

func TestMissingAndFill(t *testing.T) {
	f := &records.File{Path: "a", SHA256: "kept", MIME: "kept/type"}
	if m := Missing(f, Default); m != Set(MD5|SHA1) {
		t.Errorf("Missing = %v", m)
	}
	if m := Missing(f, Set(SHA256)); m != 0 {
		t.Errorf("Missing = %v", m)
	}
	s := Sums{Size: 3, MD5: "m", SHA1: "s1", SHA256: "new", MIME: "x/y", TLSH: "T"}
	s.Fill(f)
	if f.MD5 != "m" || f.SHA1 != "s1" || f.SHA256 != "kept" || f.MIME != "kept/type" || f.TLSH != "T" || *f.Size != 3 {
		t.Errorf("after Fill: %+v", f)
	}
}
