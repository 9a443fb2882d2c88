package digest

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/hashr-dev/hashr/internal/digest/md5x16"
)

// forEachEngine runs test without the md5 engine, with this CPU's own
// (when it has one), and with one of small buffers, whose edges more
// inputs cross; and, on a CPU with sha1sha256's kernel, once more with
// crypto/sha1 and crypto/sha256 in its place.
func forEachEngine(t *testing.T, test func(t *testing.T)) {
	engines := map[string]*md5x16.Engine{
		"crypto-md5":          nil,
		"md5x16-4KiB-buffers": md5x16.NewEngine(4096),
	}
	if e := md5Engine(); e != nil {
		engines["md5x16"] = e
	}
	saved, savedOn := md5Engine, multiBuffer.Load()
	t.Cleanup(func() { md5Engine = saved; multiBuffer.Store(savedOn) })
	multiBuffer.Store(true)
	for name, e := range engines {
		md5Engine = func() *md5x16.Engine { return e }
		t.Run(name, test)
	}
	if useSHAPair {
		md5Engine = saved
		useSHAPair = false
		t.Cleanup(func() { useSHAPair = true })
		t.Run("crypto-sha1-sha256", test)
	}
}

// TestMultiBufferManyInputs reads inputs of many sizes at once, from more
// goroutines than the engine has lanes (so some hash with crypto/md5 on
// their own), and checks every digest.
func TestMultiBufferManyInputs(t *testing.T) {
	forEachEngine(t, testMultiBufferManyInputs)
}

func testMultiBufferManyInputs(t *testing.T) {
	sizes := []int{0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097, 8191, 8193,
		multiBufferFrom - 1, multiBufferFrom, multiBufferFrom + 1, multiBufferFrom + 65,
		multiBufferSize - 1, multiBufferSize, multiBufferSize + 1, 2*multiBufferSize + 63,
		fanoutAfter + 1, 3<<20 + 17, 9<<20 + 1}
	type input struct {
		data []byte
		want Sums
	}
	var inputs []input
	for i, n := range sizes {
		for copy := range 2 {
			b := randomBytes(uint64(1000*i+copy), n)
			inputs = append(inputs, input{b, oneShot(b)})
		}
	}
	for _, set := range []Set{Default, Set(MD5), Set(MD5 | SHA512 | SSDEEP)} {
		var wg sync.WaitGroup
		work := make(chan int)
		for range md5x16.Lanes + 8 {
			wg.Go(func() {
				h := New(set)
				for i := range work {
					in := inputs[i]
					h.Reset()
					var rd io.Reader = bytes.NewReader(in.data)
					if i%3 == 0 {
						rd = iotest.HalfReader(rd) // short reads
					}
					n, err := h.ReadFrom(rd)
					if err != nil || n != int64(len(in.data)) {
						t.Errorf("input %d: ReadFrom = %d, %v", i, n, err)
						continue
					}
					if got, want := h.Sum(), in.want.only(set); got != want {
						t.Errorf("%v of %d bytes:\n got %+v\nwant %+v", set, len(in.data), got, want)
					}
				}
			})
		}
		for i := range inputs {
			work <- i
		}
		close(work)
		wg.Wait()
	}
}

// only keeps the digests of set, and size and MIME type.
func (s Sums) only(set Set) Sums {
	out := Sums{Size: s.Size, MIME: s.MIME}
	for _, a := range set.Algos() {
		*out.field(a) = *s.field(a)
	}
	return out
}

func TestUseMultiBuffer(t *testing.T) {
	saved, savedOn := md5Engine, multiBuffer.Load()
	t.Cleanup(func() { md5Engine = saved; multiBuffer.Store(savedOn) })
	multiBuffer.Store(false)
	md5Engine = func() *md5x16.Engine { return nil }
	if n := UseMultiBuffer(Default); n != 0 || multiBuffer.Load() {
		t.Errorf("without the engine: %d lanes, multi-buffer %v", n, multiBuffer.Load())
	}
	e := md5x16.NewEngine(4096)
	md5Engine = func() *md5x16.Engine { return e }
	if n := UseMultiBuffer(Set(SHA256)); n != 0 || multiBuffer.Load() {
		t.Errorf("sha256 alone: %d lanes, multi-buffer %v", n, multiBuffer.Load())
	}
	if n := UseMultiBuffer(Default); n != md5x16.Lanes || !multiBuffer.Load() {
		t.Errorf("with the engine: %d lanes, want %d; multi-buffer %v", n, md5x16.Lanes, multiBuffer.Load())
	}
}
