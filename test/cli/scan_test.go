package cli_test

import "github.com/hashr-dev/hashr/internal/scan"

func init() { register("hashr-scan", scan.Main) }
