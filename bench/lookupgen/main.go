// Command lookupgen wraps the file records hashr-hash writes for a tree
// (on stdin) into one source, with its source and end records, so that
// hashr-load can load the tree's real files into bench/lookup.sh's
// database as the files of a package.
//
//	bin/hashr-hash TREE | go run ./bench/lookupgen -id tree-1 | bin/hashr-load --db sqlite:bench.db
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	id := flag.String("id", "tree", "the source's ID")
	flag.Parse()
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer out.Flush()

	sha := sha256.Sum256([]byte("lookupgen source " + *id))
	quick := sha256.Sum256([]byte("lookupgen quick " + *id))
	fmt.Fprintf(out, `{"type":"source","repo":"bench","id":%q,"uri":"/bench/%s","format":"tar","quick_sha256":"%x","sha256":"%x"}`+"\n", *id, *id, quick, sha)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	n := 0
	for in.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(in.Bytes(), &rec); err != nil || rec["type"] != "file" {
			continue
		}
		rec["source"] = fmt.Sprintf("%x", sha)
		b, _ := json.Marshal(rec)
		out.Write(append(b, '\n'))
		n++
	}
	fmt.Fprintf(out, `{"type":"end","source":"%x","files":%d,"errors":0,"bytes":0}`+"\n", sha, n)
	fmt.Fprintf(os.Stderr, "lookupgen: %d files as source %s\n", n, *id)
}
