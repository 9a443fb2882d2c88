package md5x16

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestBlock checks the Go reference against crypto/md5 on whole blocks.
func TestBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 5 {
		data := make([]byte, 64*n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		var state [4][Lanes]uint32
		for w := range 4 {
			state[w][3] = iv[w]
		}
		var offsets [Lanes]uint32
		if n > 0 {
			blocksGeneric(&state, &data[0], &offsets, 1<<3, n)
		}
		h := md5.New()
		if err := Resume(h, [4]uint32{state[0][3], state[1][3], state[2][3], state[3][3]}, uint64(len(data))); err != nil {
			t.Fatal(err)
		}
		if got, want := h.Sum(nil), md5.Sum(data); !bytes.Equal(got, want[:]) {
			t.Errorf("%d blocks: %x, want %x", n, got, want)
		}
	}
}

// checkKernel runs the kernel and the Go reference on the same lanes and
// compares every lane's state, inside the mask and out.
func checkKernel(t *testing.T, data []byte, offsets [Lanes]uint32, mask uint16, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var want, got [4][Lanes]uint32
	for w := range 4 {
		for l := range Lanes {
			want[w][l] = rng.Uint32()
		}
	}
	got = want
	blocksGeneric(&want, &data[0], &offsets, mask, n)
	blocks(&got, &data[0], &offsets, mask, n)
	if got != want {
		t.Fatalf("mask %016b, %d blocks, offsets %v:\nkernel    %x\nreference %x", mask, n, offsets, got, want)
	}
}

func TestKernel(t *testing.T) {
	if !Available() {
		t.Skip("no AVX-512 on this CPU: the engine uses the Go reference")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1<<16)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for trial := range 300 {
		n := 1 + rng.IntN(16)
		mask := uint16(rng.Uint32())
		if trial < 17 {
			mask = uint16(1<<trial - 1) // 0 lanes, 1 lane, … all 16
		}
		var offsets [Lanes]uint32
		for l := range offsets {
			// Any byte offset: lanes may overlap and need not be aligned.
			offsets[l] = uint32(rng.IntN(len(data) - 64*n))
		}
		checkKernel(t, data, offsets, mask, n, uint64(trial))
	}
}

func FuzzKernel(f *testing.F) {
	if !Available() {
		f.Skip("no AVX-512 on this CPU")
	}
	f.Add([]byte("abc"), uint16(0xffff), uint8(1))
	f.Add(bytes.Repeat([]byte{0xff}, 200), uint16(0x8001), uint8(3))
	f.Fuzz(func(t *testing.T, seed []byte, mask uint16, n uint8) {
		// Each lane hashes its own rotation of the input, so that lanes
		// differ and a mixed-up lane shows.
		blocksN := 1 + int(n%8)
		laneLen := 64 * blocksN
		data := make([]byte, Lanes*laneLen)
		if len(seed) == 0 {
			seed = []byte{0}
		}
		for i := range data {
			data[i] = seed[(i+i/laneLen)%len(seed)] ^ byte(i/laneLen)
		}
		var offsets [Lanes]uint32
		for l := range offsets {
			offsets[l] = uint32(l * laneLen)
		}
		checkKernel(t, data, offsets, mask, blocksN, uint64(len(seed)))
	})
}

// testSizes are lengths around MD5's padding boundaries and the engine's
// buffer size (bufSize below), and a few MiB.
const bufSize = 4096

var testSizes = []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 1000,
	bufSize - 1, bufSize, bufSize + 1, 2*bufSize + 64, 3*bufSize - 1, 100_000, 3<<20 + 17}

// hashOnEngine hashes data through a stream of e, in reads of the given
// size (0: whole buffers), as a caller such as digest.Hasher does.
func hashOnEngine(t *testing.T, e *Engine, data []byte, read int) string {
	s := e.Open()
	if s == nil {
		t.Error("no free lane")
		return ""
	}
	var tail []byte
	for {
		buf := s.Buffer()
		if read > 0 {
			buf = buf[:min(len(buf), read)]
		}
		n := copy(buf, data)
		data = data[n:]
		full := n &^ (BlockSize - 1)
		s.Submit(full / BlockSize)
		if len(data) == 0 || full < n {
			tail = append(tail, buf[full:n]...)
			data = append(tail, data...)
			break
		}
	}
	state, hashed := s.Close()
	h := md5.New()
	if err := Resume(h, state, hashed); err != nil {
		t.Fatal(err)
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func TestEngineManyStreams(t *testing.T) {
	e := NewEngine(bufSize)
	rng := rand.New(rand.NewPCG(5, 6))
	var inputs [][]byte
	for range 3 {
		for _, n := range testSizes {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			inputs = append(inputs, b)
		}
	}
	// More goroutines than lanes, in reads of odd sizes too: each waits for
	// a lane, and streams start and end at all points of each other's.
	var wg sync.WaitGroup
	sem := make(chan struct{}, Lanes)
	for i, in := range inputs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			read := []int{0, 64, 100, 1000}[i%4]
			want := md5.Sum(in)
			if got := hashOnEngine(t, e, in, read); got != hex.EncodeToString(want[:]) {
				t.Errorf("input %d (%d bytes, reads of %d): md5 %s, want %x", i, len(in), read, got, want)
			}
		})
	}
	wg.Wait()
}

func TestEngineOpenWhenFull(t *testing.T) {
	e := NewEngine(bufSize)
	var streams []*Stream
	for range Lanes {
		s := e.Open()
		if s == nil {
			t.Fatalf("lane %d not given", len(streams))
		}
		streams = append(streams, s)
	}
	if s := e.Open(); s != nil {
		t.Fatal("a 17th stream got a lane")
	}
	streams[5].Close()
	if s := e.Open(); s == nil {
		t.Fatal("a freed lane was not given again")
	}
}

func BenchmarkKernel(b *testing.B) {
	if !Available() {
		b.Skip("no AVX-512")
	}
	data := make([]byte, Lanes*64<<10)
	var offsets [Lanes]uint32
	for l := range offsets {
		offsets[l] = uint32(l * 64 << 10)
	}
	for _, lanes := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("lanes=%d", lanes), func(b *testing.B) {
			var state [4][Lanes]uint32
			b.SetBytes(int64(lanes) * 64 << 10)
			for b.Loop() {
				blocks(&state, &data[0], &offsets, uint16(1<<lanes-1), 1024)
			}
		})
	}
}

// BenchmarkCryptoMD5 is the single-stream figure BenchmarkKernel is to be
// compared with, on the same machine at the same time.
func BenchmarkCryptoMD5(b *testing.B) {
	data := make([]byte, 64<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		md5.Sum(data)
	}
}

// TestPair holds blocksOne and blocksPair to the Go reference, from random states, on
// streams of different contents.
func TestPair(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 6 {
		data := make([]byte, 2*64*max(n, 1))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		var s0, s1 [4]uint32
		for w := range 4 {
			s0[w], s1[w] = rng.Uint32(), rng.Uint32()
		}
		want0, want1 := s0, s1
		half := len(data) / 2
		blocksOneGeneric(&want0, &data[0], n)
		blocksOneGeneric(&want1, &data[half], n)
		one := s0
		blocksOne(&one, &data[0], n)
		blocksPair(&s0, &s1, &data[0], &data[half], n)
		if s0 != want0 || s1 != want1 || one != want0 {
			t.Fatalf("%d blocks: pair %x %x, one %x, reference %x %x", n, s0, s1, one, want0, want1)
		}
	}
}

// BenchmarkOne is blocksOne, to compare with BenchmarkCryptoMD5.
func BenchmarkOne(b *testing.B) {
	data := make([]byte, 64<<10)
	var s [4]uint32
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		blocksOne(&s, &data[0], 1024)
	}
}

// BenchmarkPair is two streams' md5 in the scalar registers at once, per
// byte of both; compare BenchmarkCryptoMD5.
func BenchmarkPair(b *testing.B) {
	data := make([]byte, 2*64<<10)
	var s0, s1 [4]uint32
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		blocksPair(&s0, &s1, &data[0], &data[64<<10], 1024)
	}
}

// BenchmarkEngine is whole streams through an engine, its scheduler (run)
// included, per byte of all streams: 1 MiB each from 1, 4 and 16
// goroutines at once, in buffers of 64 KiB as digest.Hasher hands them.
func BenchmarkEngine(b *testing.B) {
	const perStream = 1 << 20
	e := NewEngine(64 << 10)
	for _, streams := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			b.SetBytes(int64(streams) * perStream)
			for b.Loop() {
				var wg sync.WaitGroup
				for range streams {
					wg.Go(func() { streamBlocks(e, perStream/BlockSize) })
				}
				wg.Wait()
			}
		})
	}
}

// streamBlocks submits n blocks of whatever the buffers hold through a
// stream of e, and waits for them to be hashed.
func streamBlocks(e *Engine, n int) {
	s := e.Open()
	for n > 0 {
		buf := s.Buffer()
		k := min(n, len(buf)/BlockSize)
		s.Submit(k)
		n -= k
	}
	s.Close()
}
