package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/extract"
)

func main() { os.Exit(extract.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
