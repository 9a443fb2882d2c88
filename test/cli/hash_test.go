package cli_test

import "github.com/hashr-dev/hashr/internal/hash"

func init() { register("hashr-hash", hash.Main) }
