package cli_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
)

// Helpers for testdata/load_trust*.txtar, which corrupt real packages and
// archives the way a bad disk or a bad mirror would.
func init() {
	commands["flip"] = func() { os.Exit(flipMain(os.Args[1:])) }
	commands["gzstore"] = func() { os.Exit(gzstoreMain(os.Args[1:])) }
}

// flipMain is flip FILE NEEDLE: it inverts the bits of the first byte of
// the first NEEDLE in FILE, in place. In stored (uncompressed) data, that
// changes one member's content and leaves every check to find it.
func flipMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: flip FILE NEEDLE")
		return 2
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	i := bytes.Index(data, []byte(args[1]))
	if i < 0 {
		fmt.Fprintf(os.Stderr, "flip: %q not in %s\n", args[1], args[0])
		return 1
	}
	data[i] ^= 0xff
	if err := os.WriteFile(args[0], data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// gzstoreMain is gzstore FILE: it writes FILE.gz, a gzip stream of stored
// blocks, so that flip can reach its payload and the CRC catches it.
func gzstoreMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: gzstore FILE")
		return 2
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(args[0]+".gz", buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
