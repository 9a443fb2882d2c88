// Command setgen writes a synthetic hash set's records (source, file and
// end records, as hashr-hash | hashr-dedup would) with the shape of a real
// one: many sources of very unequal sizes (log-normal, a few with tens of
// thousands of files), file sizes log-normal around a few KiB with a long
// tail, paths 1 to 12 directories deep, and a share of the file records
// (-shared, 30% by default) whose content other sources have too, drawn
// from a pool where a few contents (licences, empty files, common
// libraries) are in very many sources and most in a handful (Zipf).
//
// Digests are pseudo-random bytes, not digests of real content: each
// content's md5, sha1 and sha256 come from a generator seeded by the
// content's number, so a shared content has the same digests wherever it
// appears, and any range of sources (-from, -to) is written the same
// whether alone or within a whole run, which lets a bench load a set in
// slices.
//
//	go run ./bench/setgen -sources 100000 [-from 0 -to 10000] > slice.ndjson
//	go run ./bench/setgen -sources 100000 -keys 1000 -seed 7   # known sha256s, one a line
package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
)

func main() {
	sources := flag.Int("sources", 10_000, "sources in the whole set")
	from := flag.Int("from", 0, "first source written")
	to := flag.Int("to", -1, "source after the last written (-1: -sources)")
	shared := flag.Float64("shared", 0.3, "share of file records whose content other sources have too")
	keys := flag.Int("keys", 0, "instead of records: this many sha256s the sources before -to hold, one a line, hex")
	seed := flag.Uint64("seed", 1, "with -keys, which keys")
	flag.Parse()
	if *to < 0 || *to > *sources {
		*to = *sources
	}
	g := newSet(*sources, *shared)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	var err error
	if *keys > 0 {
		err = g.writeKeys(out, *keys, *seed, *to)
	} else {
		for s := *from; s < *to && err == nil; s++ {
			err = g.writeSource(out, s)
		}
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "setgen:", err)
		os.Exit(1)
	}
}

// set is the shape of the whole set; every source is derived from it and
// its own number.
type set struct {
	sources int
	shared  float64
	poolLen uint64
}

// meanFiles is the mean number of file records per source (the
// log-normal's: median 20, mean about e^(3+1.6^2/2) = 72).
const meanFiles = 72

func newSet(sources int, shared float64) *set {
	// The pool holds a tenth as many contents as the set's shared file
	// records: with Zipf's skew most of it appears in a few sources.
	poolLen := uint64(max(float64(sources)*meanFiles*shared/10, 16))
	return &set{sources: sources, shared: shared, poolLen: poolLen}
}

// content is one file content's digests and size.
type content struct {
	md5    [16]byte
	sha1   [20]byte
	sha256 [32]byte
	size   int64
}

// contentOf derives content number n's digests and size; shared contents
// and each source's own contents are numbered apart (kind).
func contentOf(kind, n uint64) content {
	r := rand.New(rand.NewPCG(kind, n))
	var c content
	fill := func(b []byte) {
		for i := 0; i < len(b); i += 8 {
			v := r.Uint64()
			for j := i; j < min(i+8, len(b)); j++ {
				b[j] = byte(v)
				v >>= 8
			}
		}
	}
	fill(c.md5[:])
	fill(c.sha1[:])
	fill(c.sha256[:])
	// Sizes: log-normal, median 4 KiB, a tenth over 100 KiB; a few empty.
	if r.IntN(100) == 0 {
		return c
	}
	c.size = int64(math.Exp(math.Log(4096) + 2.2*r.NormFloat64()))
	return c
}

const (
	kindShared = 1
	kindOwn    = 2
	kindSource = 3
	// a source's own digests
	kindSourceDigest = 4
	kindQuickDigest  = 5
)

// sourceFiles is how many file records source s has: log-normal, median
// 20, capped at 50,000.
func sourceFiles(r *rand.Rand) int {
	return min(int(math.Exp(3+1.6*r.NormFloat64())), 50_000)
}

var dirNames = []string{"usr", "lib", "share", "doc", "bin", "include", "python3", "dist-packages", "locale",
	"LC_MESSAGES", "man", "man1", "x86_64-linux-gnu", "etc", "opt", "src", "test", "data", "icons", "hicolor",
	"48x48", "apps", "node_modules", "dist", "esm", "java", "modules", "site-packages", "fonts", "truetype"}
var extensions = []string{".so", ".py", ".h", ".gz", ".png", ".mo", ".js", ".txt", "", ".json", ".xml", ".pyc", ".html", ".ttf", ".conf"}
var mimes = []string{"application/x-sharedlib", "text/x-script.python", "text/x-c", "application/gzip", "image/png",
	"application/octet-stream", "text/javascript", "text/plain", "application/x-executable", "application/json",
	"text/xml", "application/x-bytecode.python", "text/html", "font/sfnt", "text/plain"}

// path makes a path 1 to 12 directories deep (geometric, mean about 4).
func path(r *rand.Rand, s, i int) []byte {
	b := fmt.Appendf(nil, "pkg%07d", s)
	for r.IntN(4) != 0 && len(b) < 200 {
		b = append(b, '/')
		b = append(b, dirNames[r.IntN(len(dirNames))]...)
	}
	return fmt.Appendf(b, "/file-%d", i)
}

func (g *set) writeSource(w *bufio.Writer, s int) error {
	r := rand.New(rand.NewPCG(kindSource, uint64(s)))
	zipf := rand.NewZipf(r, 1.1, 1, g.poolLen-1)
	src, quick := contentOf(kindSourceDigest, uint64(s)), contentOf(kindQuickDigest, uint64(s))
	sha := hex.EncodeToString(src.sha256[:])
	fmt.Fprintf(w, `{"type":"source","repo":"synthetic","repo_path":"/mirror","id":"pkg%07d_1.%d-1_amd64.deb","uri":"/mirror/pkg%07d.deb","format":"deb","size":%d,"mtime":"2024-05-01T10:00:00Z","quick_sha256":"%x","sha256":"%s"}`+"\n",
		s, s%17, s, src.size+1000, quick.sha256[:], sha)
	n := sourceFiles(r)
	var bytes int64
	line := make([]byte, 0, 512)
	for i := range n {
		var c content
		if r.Float64() < g.shared {
			c = contentOf(kindShared, zipf.Uint64())
		} else {
			c = contentOf(kindOwn, uint64(s)<<24|uint64(i))
		}
		k := r.IntN(len(extensions))
		bytes += c.size
		line = append(line[:0], `{"type":"file","source":"`...)
		line = append(line, sha...)
		line = append(line, `","path":"`...)
		line = append(line, path(r, s, i)...)
		line = append(line, extensions[k]...)
		line = append(line, `","size":`...)
		line = strconv.AppendInt(line, c.size, 10)
		line = append(line, `,"mode":"0644","md5":"`...)
		line = hex.AppendEncode(line, c.md5[:])
		line = append(line, `","sha1":"`...)
		line = hex.AppendEncode(line, c.sha1[:])
		line = append(line, `","sha256":"`...)
		line = hex.AppendEncode(line, c.sha256[:])
		line = append(line, `","mime":"`...)
		line = append(line, mimes[k]...)
		line = append(line, "\",\"seen\":false}\n"...)
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, `{"type":"end","source":"%s","files":%d,"errors":0,"bytes":%d,"ms":{"extract":%d,"hash":%d}}`+"\n",
		sha, n, bytes, n/10+1, n/20+1)
	return err
}

// writeKeys writes n sha256s the set's first sources (up to, not
// including, source to) hold, chosen at random: each from a random
// source's random file.
func (g *set) writeKeys(w *bufio.Writer, n int, seed uint64, to int) error {
	pick := rand.New(rand.NewPCG(seed, 99))
	for written := 0; written < n; {
		s := pick.IntN(to)
		r := rand.New(rand.NewPCG(kindSource, uint64(s)))
		zipf := rand.NewZipf(r, 1.1, 1, g.poolLen-1)
		files := sourceFiles(r)
		if files == 0 {
			continue
		}
		want := pick.IntN(files)
		for i := 0; ; i++ {
			sharedContent := r.Float64() < g.shared
			var c content
			if sharedContent {
				c = contentOf(kindShared, zipf.Uint64())
			} else {
				c = contentOf(kindOwn, uint64(s)<<24|uint64(i))
			}
			r.IntN(len(extensions)) // as writeSource draws them
			path(r, s, i)
			if i == want {
				fmt.Fprintf(w, "%x\n", c.sha256[:])
				written++
				break
			}
		}
	}
	return nil
}
