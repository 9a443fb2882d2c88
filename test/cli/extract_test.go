package cli_test

import "github.com/hashr-dev/hashr/internal/extract"

func init() { register("hashr-extract", extract.Main) }
