package dedup

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
)

const statsLong = `
hashr-dedup stats writes one record describing the store on stdout:

  {"type":"store","dir":...,"keys":N,"disk_bytes":N,"tables":N,"format":1,"pebble_format":N}

"keys" is the exact number of digests, counted by reading every key (a
few seconds for tens of millions); with --estimate it comes from the
tables' entry counts instead, at once, counting a digest twice while a
seeded copy of it has not yet been compacted with the first, and
"keys_estimated" is true. With --verbose, the store's LSM tree (levels,
tables, compactions, cache hit rates) is described on stderr.`

const statsExample = `  hashr-dedup stats
  hashr-dedup stats --store /var/lib/hashr/store --estimate | jq .keys`

func newStatsCommand(p *cli.Program, storeDir *string) *cobra.Command {
	var estimate bool
	cmd := &cobra.Command{
		Use:     "stats [flags]",
		Short:   "Report the store's number of digests and size on disk",
		Long:    statsLong[1:] + "\n\n" + cli.ExitCodesHelp,
		Example: statsExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := resolveStoreDir(*storeDir)
			if err != nil {
				return err
			}
			return runStats(cmd.Context(), p, dir, estimate)
		},
	}
	cmd.Flags().BoolVar(&estimate, "estimate", false, "count digests from table metadata, at once, instead of reading every key")
	return cmd
}

func runStats(_ context.Context, p *cli.Program, dir string, estimate bool) error {
	s, err := openStore(p, dir)
	if err != nil {
		return err
	}
	st, err := s.Stats(estimate)
	if err != nil {
		return err
	}
	p.Verbosef("%s", s.Metrics())
	dirJSON, err := json.Marshal(st.Dir)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(p.Stdout, `{"type":"store","dir":%s,"keys":%d,"keys_estimated":%t,"disk_bytes":%d,"tables":%d,"format":%d,"pebble_format":%d}`+"\n",
		dirJSON, st.Keys, st.Estimated, st.DiskBytes, st.Tables, st.Format, st.PebbleFormat)
	if err != nil {
		return fmt.Errorf("writing records: %w", err)
	}
	return nil
}
