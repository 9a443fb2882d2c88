package cli_test

import "github.com/hashr-dev/hashr/internal/dedup"

func init() { register("hashr-dedup", dedup.Main) }
