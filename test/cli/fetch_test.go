package cli_test

import "github.com/hashr-dev/hashr/internal/fetch"

func init() { register("hashr-fetch", fetch.Main) }
