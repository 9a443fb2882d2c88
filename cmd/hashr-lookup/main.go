// Command hashr-lookup says of each file or hash whether the hash set knows
// it, and where from; see internal/lookup.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/hugeheap"
	"github.com/hashr-dev/hashr/internal/lookup"
)

func main() {
	hugeheap.Reserve(lookup.HugeHeap) // first, while the heap is fresh
	os.Exit(lookup.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
