// Command hashr-extract walks each source (package, archive, image) and
// writes a file record for every regular file inside it; see
// internal/extract.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/extract"
)

func main() { os.Exit(extract.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
