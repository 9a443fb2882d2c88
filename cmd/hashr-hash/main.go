// Command hashr-hash fills in the digests of file records, or hashes files
// and trees; see internal/hashcmd.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/hashcmd"
)

func main() { os.Exit(hashcmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
