// Command hashr-hash fills in the digests of file records, or hashes files
// and trees; see internal/hash.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/hash"
)

func main() { os.Exit(hash.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
