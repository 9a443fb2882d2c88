// Command hashr-fetch makes each source local: it downloads remote ones
// into --work and checks their bytes; see internal/fetch.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/fetch"
)

func main() { os.Exit(fetch.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
