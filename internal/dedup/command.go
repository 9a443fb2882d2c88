// Package dedup is hashr-dedup: it marks each file record's sha256 "seen"
// or new against an on-disk store of known digests (internal/store), adds
// the new ones, and with its subcommands seeds the store from hash lists
// and reports its size.
package dedup

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/store"
)

// options are hashr-dedup's flags, validated.
type options struct {
	storeDir string // absolute
	dropSeen bool
	inputs   []string
}

// Main runs hashr-dedup with the given arguments and streams and returns
// its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New("hashr-dedup", stdin, stdout, stderr)
	return p.Execute(NewCommand(p), args)
}

const long = `
hashr-dedup reads records (from stdin, or from the NDJSON files named) and
looks the sha256 of each file record up in an on-disk store of known
digests. It sets "seen" to true when the digest was in the store before this
run or came earlier in this stream, and to false otherwise, and adds the new
digests to the store. Other records pass through unchanged, in order; each
source's end record gets this stage's time in "ms.dedup".

The store is a sorted key-value store on disk (Pebble, an LSM tree): memory
stays flat, under 300 MiB, whatever the number of digests, billions
included. It defaults to $XDG_CACHE_HOME/hashr/store, or
~/.cache/hashr/store. Only one process at a time can use a store; a second
one stops with an error naming the lock file. A killed run leaves the store
consistent: digests it committed are kept, and a re-run works.

The store is an accelerator, never the truth: "seen" says a file need not be
hashed, spooled or stored again, but nothing downstream may drop a sample
because of it. With --drop-seen, file records that are seen are not written
at all (for "what is new in this image" sets), and each source's end record
counts only the file records written.

A file record without a sha256 (run hashr-hash first), or with one that is
not 64 lowercase hex digits, is replaced by an error record naming its line;
the source's end record counts it as an error, and the run goes on.

Subcommands: "seed" adds hash lists to the store in bulk; "stats" reports
its size.`

const example = `  # Mark what is new in a pipeline; hashr-load stores every sample either way
  hashr-scan /srv/debs | hashr-fetch | hashr-extract | hashr-hash | hashr-dedup | hashr-load

  # Only the files of this image that no earlier image had
  hashr-extract win11.iso --hash sha256 | hashr-dedup --drop-seen > new-in-win11.ndjson

  # A store of your choice, e.g. one per concurrent pipeline
  hashr-dedup --store /var/lib/hashr/store < hashed.ndjson > deduped.ndjson

  # Count seen and new
  hashr-dedup < hashed.ndjson | jq -r 'select(.type=="file") | .seen' | sort | uniq -c`

// NewCommand builds the hashr-dedup command and its subcommands; Main runs
// it, and the man page generator reads it.
func NewCommand(p *cli.Program) *cobra.Command {
	var (
		opts     options
		storeDir string
	)
	cmd := p.Command("hashr-dedup [flags] [FILE...]",
		"Mark each file's sha256 seen or new against an on-disk store",
		long, example,
		func(ctx context.Context, args []string) error {
			var err error
			if opts.storeDir, err = resolveStoreDir(storeDir); err != nil {
				return err
			}
			opts.inputs = args
			return run(ctx, p, opts)
		})
	cmd.Args = cobra.ArbitraryArgs
	// --store is shared with the subcommands.
	p.AddInputFlags(cmd)
	cmd.PersistentFlags().StringVar(&storeDir, "store", "", "the store's directory (default $XDG_CACHE_HOME/hashr/store or ~/.cache/hashr/store)")
	cmd.Flags().BoolVar(&opts.dropSeen, "drop-seen", false, "write no file record whose sha256 is seen")
	cmd.AddCommand(newSeedCommand(p, &storeDir), newStatsCommand(p, &storeDir))
	return cmd
}

func resolveStoreDir(dir string) (string, error) { return cli.CacheDir(dir, "store", "--store") }

// openStore opens the store, printing the hint of an error that has one,
// and arranges for it to be closed however the command ends.
func openStore(p *cli.Program, dir string) (*store.Store, error) {
	s, err := store.Open(dir, store.Options{
		Warnf: p.Warnf,
		Fatal: func(msg string) {
			p.Errorf("%s", msg)
			os.Exit(cli.ExitFatal)
		},
	})
	if err != nil {
		var locked *store.LockedError
		var hinted *store.HintedError
		switch {
		case errors.As(err, &locked):
			p.OnExit(func() { p.Hint("%s", locked.HintText()) })
		case errors.As(err, &hinted):
			p.OnExit(func() { p.Hint("%s", hinted.Hint) })
		}
		return nil, err
	}
	p.OnExit(func() {
		// Every record written is right either way: digests that could not
		// be added now stay in the store's log and go in at its next Open.
		if err := s.Close(); err != nil {
			p.Warnf("%v (the digests of this run are kept in the store's log and added when it is next opened)", err)
		}
	})
	return s, nil
}

// hintFor prints the hint carried by err, if any, after the error itself.
func hintFor(p *cli.Program, err error) error {
	var hinted *store.HintedError
	if errors.As(err, &hinted) {
		p.OnExit(func() { p.Hint("%s", hinted.Hint) })
	}
	return err
}
