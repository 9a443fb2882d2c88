// Command hashr-lookup says of each file or hash whether the hash set knows
// it, and where from; see internal/lookup.
package main

import (
	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/lookup"
)

func main() { cli.Exec(lookup.HugeHeap, lookup.Main) }
