// Command dedupgen makes the inputs of bench/dedup.sh, and measures the
// dedup cache the way HashR keeps it, for comparison:
//
//	dedupgen stream N [FIRST]
//	                    N file records of about 200 bytes, 30% of them
//	                    repeating an earlier sha256; their digests are
//	                    those numbered from FIRST (default 0) up
//	dedupgen hashes N   N distinct hex SHA-256 digests, one a line
//	dedupgen hashrmap N loads N digests into a Go map of hex strings to
//	                    entries, as HashR's cache does, and reports its size
//
// Output is deterministic for a given N.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 {
		fmt.Fprintln(os.Stderr, "usage: dedupgen stream|hashes|hashrmap N [FIRST]")
		os.Exit(2)
	}
	var first uint64
	if len(os.Args) == 4 {
		f, err := strconv.ParseUint(os.Args[3], 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dedupgen: FIRST must be a number")
			os.Exit(2)
		}
		first = f
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 0 {
		fmt.Fprintln(os.Stderr, "dedupgen: N must be a count")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	switch os.Args[1] {
	case "stream":
		stream(w, n, first)
	case "hashes":
		for i := range n {
			w.WriteString(digestHex(uint64(i)))
			w.WriteByte('\n')
		}
	case "hashrmap":
		hashrMap(n)
	default:
		fmt.Fprintln(os.Stderr, "dedupgen: unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// digestHex is the i-th test digest: the SHA-256 of i, so any two modes
// agree on which digests exist.
func digestHex(i uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

var dirs = []string{"usr/bin", "usr/lib/x86_64-linux-gnu", "usr/share/doc", "etc", "usr/share/locale/de/LC_MESSAGES"}

func stream(w *bufio.Writer, n int, first uint64) {
	r := rand.New(rand.NewPCG(1, 2))
	source := digestHex(1 << 62)
	next := uint64(0)
	for i := range n {
		if i%1000 == 0 {
			source = digestHex(1<<62 + uint64(i))
		}
		id := next
		if next > 0 && r.IntN(10) < 3 {
			id = r.Uint64N(next) // a file seen before
		} else {
			next++
		}
		fmt.Fprintf(w, `{"type":"file","source":"%s","path":"%s/f%d","size":%d,"sha256":"%s"}`+"\n",
			source, dirs[r.IntN(len(dirs))], i, r.IntN(1<<20), digestHex(first+id))
	}
}

// entry is what HashR's cache keeps per digest (its CacheEntry: the
// sha256 and the sources it was seen in).
type entry struct {
	sha256  string
	sources []string
	seen    int64
}

func hashrMap(n int) {
	start := time.Now()
	cache := make(map[string]*entry)
	source := "golden.iso"
	for i := range n {
		h := digestHex(uint64(i))
		cache[h] = &entry{sha256: h, sources: []string{source}, seen: time.Now().Unix()}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "hashrmap: %d entries in %.1fs, Go heap in use %d MiB\n",
		len(cache), time.Since(start).Seconds(), ms.HeapInuse>>20)
	runtime.KeepAlive(cache)
}
