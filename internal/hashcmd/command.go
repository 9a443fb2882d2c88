// Package hashcmd is hashr-hash: it fills the digests and MIME type of file
// records from the bytes their "local" path names, or, given paths, hashes
// those files and trees directly. The digests come from internal/digest, in
// one pass over each file's bytes.
package hashcmd

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/internal/filehash"
)

// HugeHeap is how much of hashr-hash's heap asks for huge pages, first in
// its main (hugeheap.Reserve): more than the heap reaches hashing a tree
// (RSS about 22 MB over /usr/share/man, where its 4,500 page faults
// became 1,500; bench/README.md).
const HugeHeap = 64 << 20

// options are hashr-hash's flags, validated.
type options struct {
	algos   digest.Set
	workers int
	delete  bool
	paths   []string // PATH arguments; none means records on stdin
}

// Main runs hashr-hash with the given arguments and streams and returns its
// exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New("hashr-hash", stdin, stdout, stderr)
	return p.Execute(NewCommand(p), args)
}

const long = `
hashr-hash reads records on stdin and fills in the digests of each file
record from the bytes at its "local" path: md5, sha1 and sha256 unless
--algos says otherwise (also sha512, crc32, blake3, ssdeep, tlsh), plus
"mime", the type detected from the first 3 KiB of content, and "size" when
the record has none. All digests come from one read of the bytes. Only the
missing ones are computed: a record that already has every digest asked for,
a mime and a size is passed on without opening its file. Digests are
lowercase hex; ssdeep is "BLOCKSIZE:HASH:HASH" and tlsh 70 uppercase hex
digits, as the ssdeep and tlsh (tlsh-tools 3.4.4) commands print them. Inputs
that have no TLSH (under 256 bytes, or too little variety) get no tlsh field.

With --delete each spooled file is removed once its record has its digests,
and "local" is dropped from the record, since the file no longer exists.
Only regular files are removed; hashr-hash trusts the "local" paths it is
given, so use --delete only on records from hashr-extract's spool. The
directories that hold them are removed as they become empty, up to the
source's own directory in the spool (SPOOL/SHA256) and never above it.

A file record whose local file cannot be read (or holds a different number of
bytes than its "size" says) is not passed on: an error record (stage "hash",
its source and path) takes its place, the error is reported on stderr, and
the run goes on. The source's end record then counts one file less and one
error more, so hashr-load does not mark the source done. Each end record gets
"ms.hash": the milliseconds spent hashing the source's files, summed over
the workers. Records of other types pass through unchanged, and the output
keeps the input order.

Given PATH arguments instead, hashr-hash hashes those files and the trees
under those directories (in name order; symbolic links and special files
inside trees are skipped, those named on the command line are followed)
and writes one file record per regular file: "path" as walked from the
argument (as find or hashdeep -l print it), "size", "mode", "mtime", the
digests and "mime". Names that are not UTF-8 get U+FFFD in "path" and their
exact bytes, base64-encoded, in "path_raw". A path that cannot be read gives
an error record.`

const example = `  # The usual place: between extract and dedup, removing spooled files
  hashr-scan /srv/debs | hashr-fetch | hashr-extract | hashr-hash --delete | hashr-dedup

  # Add fuzzy hashes to records that already have md5, sha1 and sha256
  hashr-hash --algos md5,sha1,sha256,ssdeep,tlsh < files.ndjson > more.ndjson

  # A hashdeep of its own: hash a tree, one record per file
  hashr-hash /usr/bin > usr-bin.ndjson

  # sha256sum-style output from the records
  hashr-hash --algos sha256 dir | jq -r '"\(.sha256)  \(.path)"'`

// NewCommand builds the hashr-hash command; Main runs it, and the man page
// generator reads it.
func NewCommand(p *cli.Program) *cobra.Command {
	var (
		opts  options
		algos string
	)
	cmd := p.Command("hashr-hash [flags] [PATH...]",
		"Fill in the digests of file records, or hash files and trees",
		long, example,
		func(ctx context.Context, args []string) error {
			var err error
			if opts.algos, err = digest.Parse(algos); err != nil {
				return cli.Usagef("--algos: %w", err)
			}
			if opts.workers < 0 {
				return cli.Usagef("--workers %d: want 0 (automatic) or more", opts.workers)
			}
			if opts.delete && len(args) > 0 {
				return cli.Usagef("--delete removes the spooled files of records on stdin; it does not apply to PATH arguments")
			}
			opts.paths = args
			if n := filehash.Workers(opts.algos); opts.workers == 0 {
				opts.workers = n
			}
			return run(ctx, p, opts)
		})
	p.AddInputFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&algos, "algos", digest.Default.String(), "digests to compute, comma-separated, from "+digest.Names())
	f.IntVar(&opts.workers, "workers", 0, "files hashed in parallel (0: two per CPU, or at least 16 for md5 on a CPU with AVX-512)")
	f.BoolVar(&opts.delete, "delete", false, `remove each file record's spooled "local" file once hashed, and drop "local"`)
	return cmd
}

// run hashes the records on stdin, or the files under opts.paths.
func run(ctx context.Context, p *cli.Program, opts options) error {
	if len(opts.paths) > 0 {
		return hashPaths(ctx, p, opts)
	}
	return hashRecords(ctx, p, opts)
}

// recordsAhead is how many records hashr-hash may take beyond the oldest
// one still being hashed: as many as for the files under PATH arguments
// (filehash.Ahead says why).
const recordsAhead = filehash.Ahead
