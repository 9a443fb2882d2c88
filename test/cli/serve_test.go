package cli_test

import "github.com/hashr-dev/hashr/internal/serve"

func init() { register("hashr-serve", serve.Main) }
