package cli_test

import (
	"os"

	"github.com/hashr-dev/hashr/internal/extract"
)

func init() {
	register("hashr-extract", extract.Main)
	// extract.Main run in-process (TestPipelineRealDebsIntoDatabases)
	// parses each source in a child that is this test binary.
	if os.Getenv(extract.SandboxChildEnv) == "1" {
		os.Exit(extract.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
}
