// Command hashr-hash fills in the digests of file records, or hashes files
// and trees; see internal/hashcmd.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/hashcmd"
	"github.com/hashr-dev/hashr/internal/hugeheap"
)

func main() {
	hugeheap.Reserve(hashcmd.HugeHeap) // first, while the heap is fresh
	os.Exit(hashcmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
