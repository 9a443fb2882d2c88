package cli_test

import "github.com/hashr-dev/hashr/internal/hashcmd"

func init() { register("hashr-hash", hashcmd.Main) }
