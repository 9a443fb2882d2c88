package wim

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/Microsoft/go-winio/wim/lzx"
	wimtest "github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// winioLZX decodes a chunk with go-winio's decoder, the reference this
// package's replaced: an error for a chunk it panics on.
func winioLZX(in []byte, usize int) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, errLZXCorrupt
		}
	}()
	lr, err := lzx.NewReader(bytes.NewReader(in), usize)
	if err != nil {
		return nil, err
	}
	out = make([]byte, usize)
	_, err = io.ReadFull(lr, out)
	return out, err
}

// lzxChunks returns every compressed LZX chunk of the WIM in data, with
// its uncompressed size.
func lzxChunks(t testing.TB, data []byte) (chunks [][]byte, usizes []int) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[*resource]bool{}
	add := func(res *resource) {
		if res == nil || seen[res] || res.comp != compLZX || res.chunks == nil {
			return
		}
		seen[res] = true
		for i := 0; i+1 < len(res.chunks); i++ {
			c := data[res.dataStart+res.chunks[i] : res.dataStart+res.chunks[i+1]]
			if u := res.chunkUsize(i); len(c) != u {
				chunks, usizes = append(chunks, c), append(usizes, u)
			}
		}
	}
	for _, b := range append(r.metadata, func() (bs []*blob) {
		for _, b := range r.blobs {
			bs = append(bs, b)
		}
		return bs
	}()...) {
		add(b.res)
		if b.group != nil {
			for _, res := range b.group.resources {
				add(res)
			}
		}
	}
	return chunks, usizes
}

// TestLZXAgainstWinio decodes every chunk of LZX WIMs wimlib-imagex made
// of real files with this package's decoder and go-winio's: the same
// bytes, or the same failure. HASHR_LZX_WIM adds a WIM of your own (the
// one bench/wim.sh builds, say).
func TestLZXAgainstWinio(t *testing.T) {
	var wims []string
	if p := os.Getenv("HASHR_LZX_WIM"); p != "" {
		wims = append(wims, p)
	}
	src := wimtest.SourceTree(t)
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"lzx":       {"--compress=LZX"},
		"solid-lzx": {"--compress=LZX", "--solid", "--solid-compress=LZX", "--solid-chunk-size=32768"},
	} {
		out := filepath.Join(dir, name+".wim")
		wimtest.Run(t, "wimlib-imagex", append([]string{"capture", src, out, "x"}, args...)...)
		wims = append(wims, out)
	}
	var d lzxDecoder
	for _, name := range wims {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		chunks, usizes := lzxChunks(t, data)
		if len(chunks) == 0 {
			t.Fatalf("%s: no LZX chunks", name)
		}
		var bad int
		for i, c := range chunks {
			want, werr := winioLZX(c, usizes[i])
			got := make([]byte, usizes[i], usizes[i]+lzxSlack)
			gerr := d.decode(c, got)
			if (werr == nil) != (gerr == nil) || werr == nil && !bytes.Equal(got, want) {
				bad++
				if bad <= 5 {
					t.Errorf("%s: chunk %d (%d -> %d bytes): go-winio %v, ours %v, same bytes %v", filepath.Base(name), i, len(c), usizes[i], werr, gerr, bytes.Equal(got, want))
				}
			}
		}
		t.Logf("%s: %d LZX chunks, %d differ", filepath.Base(name), len(chunks), bad)
	}
}

// BenchmarkLZX decodes every LZX chunk of the WIM HASHR_LZX_WIM names
// (bench/wim.sh's, say), in one goroutine.
func BenchmarkLZX(b *testing.B) {
	name := os.Getenv("HASHR_LZX_WIM")
	if name == "" {
		b.Skip("HASHR_LZX_WIM is not set")
	}
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	chunks, usizes := lzxChunks(b, data)
	var total int64
	for _, u := range usizes {
		total += int64(u)
	}
	b.SetBytes(total)
	var d lzxDecoder
	out := make([]byte, 32768+lzxSlack)
	for b.Loop() {
		for i, c := range chunks {
			if err := d.decode(c, out[:usizes[i]]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
