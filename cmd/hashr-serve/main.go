// Command hashr-serve answers lookups over HTTP from a hash set, with
// CIRCL hashlookup's API and a page for people; see internal/serve.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/serve"
)

func main() { os.Exit(serve.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
