// Package lookup is hashr-lookup: it says of each file or hash whether the
// hash set in a database (or a Bloom filter exported from one) knows it,
// and where from. Files and trees named on the command line are hashed
// (internal/filehash, as hashr-hash does); file records or bare hashes are
// read from stdin otherwise. Lookups go to the database in batches, on a
// goroutine of their own, while the next files are hashed.
package lookup

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/internal/filehash"
)

// Main runs hashr-lookup with the given arguments and streams, and returns
// its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New("hashr-lookup", stdin, stdout, stderr)
	return p.Execute(NewCommand(p), args)
}

// options are hashr-lookup's flags.
type options struct {
	dbURL   string
	bloom   string
	only    string
	algos   digest.Set
	workers int
	batch   int
	paths   []string
	// includeFailed answers from failed sources and members too.
	includeFailed bool
	// maxSources caps the sources a known sample is answered with (0: all).
	maxSources int

	loc db.Location
	// lookBy are the digests a record may be looked up by, in order of
	// preference.
	lookBy []string
}

const long = `
hashr-lookup says of each file, file record or hash whether the hash set
knows it. Given PATH arguments, it hashes those files and the trees under
those directories exactly as hashr-hash PATH does (regular files, name
order, symbolic links inside trees skipped) and writes each file record
with "known" added. With no PATH, it reads stdin: file records (any
stage's output; records of other types pass through unchanged), or lines
holding a bare hash (md5, sha1 or sha256 by its length), optionally
followed by a name as md5sum and sha256sum print them; each hash line
gives a record of type "hash" with the hash, "path" (the name, if any)
and "known". Each line is taken for what it is, records and hash lines
mixed in any order; a line that is neither is an error record for that
line alone, and a UTF-8 BOM at the start is ignored.

A file record is looked up by its sha256, else its sha1, else its md5.
When it is known, the record also gets "sources" (the SHA-256 of every
source the sample was found in), "ids" (those sources' IDs) and "paths"
(the sample's paths in them), each sorted and distinct, and for the
sources that have them "packages" and "sources_verified": objects from
a source's SHA-256 (as in "sources") to its package and verified, as the
source record had them (see hashr-scan --verify). A sample in more than
--max-sources sources (100 by default: content shared across a whole
distribution, such as a license text) is answered with the first of them
by SHA-256, their IDs and paths, and "sources_total", the number of
sources holding it in all; the database leaves the rest out, so that a
lookup of such keys stays fast and small. Lookups are sent
in batches of --batch, while the next files are being hashed, so that a
whole disk's files cost little more than hashing them.

--bloom FILE answers from a Bloom filter written by hashr-export --format
bloom instead of a database, with no server and no database file: "known"
is then true for every file in the set, and for about --fp-rate of the
others; there are no sources, ids or paths.

Only what a trusted source vouches for is known: a sample read under a
check that failed (a package whose compressed data fails its CRC, a zip
member with a bad CRC, bytes that changed after they were hashed) is
unknown, as if it had not been loaded. --include-failed answers from those
too, and adds "failed_sources": the sources (SHA-256) whose job failed, or
in which the sample was only at failed members.

--only known (or unknown) writes only the records that are (or are not)
known, e.g. to list the files of a disk image that no trusted source
explains.`

const example = `  # Which files under /usr/local are not from any package in the set?
  hashr-lookup --db sqlite:hashr.db --only unknown /usr/local | jq -r .path

  # Where does this binary come from?
  hashr-lookup --db postgres://hashr@db/hashr /tmp/suspicious.elf | jq '{known, ids, paths}'

  # Hashes from another tool:
  sha256sum /mnt/evidence/bin/* | hashr-lookup --db sqlite:hashr.db

  # Between the stages of a pipeline: mark each extracted file
  hashr-scan image.qcow2 | hashr-fetch | hashr-extract | hashr-hash --delete | hashr-lookup --db sqlite:hashr.db

  # Offline, from a Bloom filter:
  hashr-lookup --bloom known.bloom --only unknown /mnt/evidence`

// NewCommand builds hashr-lookup's command; its work is done by run.
func NewCommand(p *cli.Program) *cobra.Command {
	var o options
	var algos string
	cmd := p.Command("hashr-lookup [flags] [PATH...]",
		"Say of each file or hash whether the hash set knows it, and where from", long, example,
		func(ctx context.Context, args []string) error {
			o.paths = args
			if err := o.validate(algos); err != nil {
				return err
			}
			return run(ctx, p, &o)
		})
	p.AddInputFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.dbURL, "db", "sqlite:hashr.db", "database: sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
	f.StringVar(&o.bloom, "bloom", "", "answer from this Bloom filter (hashr-export --format bloom) instead of the database")
	f.StringVar(&o.only, "only", "", `write only the records that are "known" or "unknown" (default: all)`)
	f.StringVar(&algos, "algos", digest.Default.String(), "digests to compute for PATH arguments, comma-separated, from "+digest.Names()+" (sha256, sha1 or md5 is looked up)")
	f.IntVar(&o.workers, "workers", 0, "files hashed in parallel (0: as hashr-hash, two per CPU, or at least 16 for md5 on a CPU with AVX-512)")
	f.IntVar(&o.batch, "batch", 1000, "digests per database query")
	f.BoolVar(&o.includeFailed, "include-failed", false, `also answer from failed sources and members, naming them in "failed_sources"`)
	f.IntVar(&o.maxSources, "max-sources", db.DefaultMaxSources, `answer with at most this many sources a sample (0: all); a sample in more gets "sources_total"`)
	return cmd
}

func (o *options) validate(algos string) error {
	var err error
	if o.bloom == "" {
		if o.loc, err = db.ParseLocation(o.dbURL); err != nil {
			return cli.Usagef("--db: %v", err)
		}
	}
	if o.algos, err = digest.Parse(algos); err != nil {
		return cli.Usagef("--algos: %v", err)
	}
	if !o.algos.Has(digest.SHA256) && !o.algos.Has(digest.SHA1) && !o.algos.Has(digest.MD5) {
		return cli.Usagef("--algos %s: include sha256, sha1 or md5, the digests a lookup uses", algos)
	}
	if o.only != "" && o.only != "known" && o.only != "unknown" {
		return cli.Usagef("--only %q: want known or unknown", o.only)
	}
	if o.workers < 0 {
		return cli.Usagef("--workers %d: want 0 (as hashr-hash) or more", o.workers)
	}
	// Files are hashed as hashr-hash hashes them, as many at once
	// (filehash.Workers says why). Over stdin nothing is hashed, and the
	// md5 engine is not started.
	if len(o.paths) > 0 {
		n := filehash.Workers(o.algos) // the engine, whatever --workers says
		if o.workers == 0 {
			o.workers = n
		}
	}
	if o.batch < 1 || o.batch > db.MaxLookupBatch {
		return cli.Usagef("--batch %d: want 1 to %d", o.batch, db.MaxLookupBatch)
	}
	if o.maxSources < 0 {
		return cli.Usagef("--max-sources %d: want 0 (all) or more", o.maxSources)
	}
	if o.bloom != "" && o.includeFailed {
		return cli.Usagef("--include-failed needs --db: a Bloom filter holds trusted samples only")
	}
	if o.bloom != "" && strings.TrimSpace(o.bloom) == "" {
		return cli.Usagef("--bloom: name a file")
	}
	return nil
}
