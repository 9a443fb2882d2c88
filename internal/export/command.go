// Package export is hashr-export: it streams the hash set in a database
// (the native schema hashr-load writes) in the formats forensic tools read:
// an NSRL RDSv3-style SQLite database, NSRL RDS 2.x NSRLFile.txt, hashdeep,
// md5sum/sha1sum/sha256sum, X-Ways, CSV, NDJSON file records and Bloom
// filters (hashr's own, and DCSO's that hashlookup reads).
package export

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/bloom/dcso"
	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
)

// Main runs hashr-export with the given arguments and streams, and returns
// its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New("hashr-export", stdin, stdout, stderr)
	return p.Execute(NewCommand(p), args)
}

// Formats, in the order --help lists them.
var formats = []string{"nsrl-rds", "nsrl-2", "hashdeep", "md5sum", "sha1sum", "sha256sum", "xways", "csv", "ndjson", "bloom", "dcso-bloom"}

// options are hashr-export's flags.
type options struct {
	dbURL  string
	format string
	repo   string
	source string
	since  string
	output string
	algo   string
	fpRate float64
	prefix string
	// includeFailed exports the samples of failed sources and members too.
	includeFailed bool
	// verifiedOnly exports only what verified sources vouch for.
	verifiedOnly bool

	// Parsed from the above by validate.
	loc    db.Location
	filter db.Filter
}

const long = `
hashr-export reads the hash set in a database loaded by hashr-load
(sqlite:PATH or postgres://…, hashr's native schema) and writes it in the
format a forensic tool reads, to stdout or to -o FILE. It streams: memory
stays the same whatever the size of the set (the Bloom filter excepted,
whose bits are held in memory: about 1.8 bytes a hash at a 0.1% rate).
With -o, the file appears only when it is complete; a failed or
interrupted run leaves none.

--repo, --source and --since select the sources whose files are exported
(by repository name, by the source's SHA-256, by the time their job was
first loaded); a sample is exported with the paths it has in the selected
sources. Without them, the whole set is exported.

Only trusted samples are exported: a sample read under a check that
failed (a package whose compressed data fails its CRC, a zip member with a
bad CRC, bytes that changed after they were hashed) is left out, with the
sources whose job failed. --include-failed exports them too, and names on
stderr each source that failed or holds failed members.

--verified-only exports only the samples that a verified source vouches
for: a source whose "verified" said ok (its signature, and the signed
index that lists it, checked by hashr-scan --verify), not one that
nothing signs ("by": "none") or that was never checked (no "verified").
The trust rule above applies first: a verified source whose job failed
vouches for nothing, and a failed member of it for nothing read inside
it, unless --include-failed. A sample is exported with its paths in the
verified sources alone, and the other selections (--repo, --source,
--since) narrow it further.

Formats (--format):

  nsrl-rds   an NSRL RDSv3-style SQLite database: views FILE (sha256, sha1,
             md5, crc32, file_name, file_size, package_id), PKG (package_id,
             name, version, operating_system_id, manufacturer_id, language,
             application_type), OS and MFG over tables METADATA (one row per
             file path), PACKAGE_OBJECT, OPERATING_SYSTEM, MANUFACTURER and
             VERSION. Sources become packages: name and version are the
             source's package's (from its own metadata: a .deb's control, an
             rpm's header…), and only for a source loaded without one read
             from a Debian or RPM file name. OS rows are the packages' os (an
             apt suite's Release, an rpm's DISTRIBUTION or OS tag, a WIM's
             product and build, an OCI platform; the last word the version
             where it starts with a digit: "Debian 12" is Debian, 12), made by
             the vendor of the first package that names it; only a source
             whose package names no os has its repository as operating system
             and manufacturer. MFG rows are those vendors and repositories; a
             package's manufacturer is its vendor, else its OS's. How each
             package was verified is in PACKAGE_OBJECT's verified_ok (1, 0, or
             NULL when never checked), verified_by, verified_signer and
             verified_detail columns, which PKG (RDSv3's seven columns) leaves
             out: join them by package_id. Digests are uppercase hex, as
             NSRL's, and compare case-insensitively. Needs -o or writes the
             file to stdout when it is complete.
  nsrl-2     NSRL RDS 2.x NSRLFile.txt: "SHA-1","MD5","CRC32","FileName",
             "FileSize","ProductCode","OpSystemCode","SpecialCode", one line
             per file name per source; ProductCode numbers the sources (as
             nsrl-rds's package_id), OpSystemCode their OS: the package's os
             ("Debian 12"), or the repository where it names none (RDS 2.x
             codes are text; a code two OS would share gets " #2"). With -o
             DIR (an existing directory) the four RDS 2.x files are written
             there: NSRLFile.txt, NSRLProd.txt
             ("ProductCode","ProductName","ProductVersion",
             "OpSystemCode","MfgCode","Language","ApplicationType"),
             NSRLOS.txt ("OpSystemCode","OpSystemName","OpSystemVersion",
             "MfgCode") and NSRLMfg.txt ("MfgCode","MfgName"), from the same
             packages, OS and manufacturers as nsrl-rds's, the files naming
             each other by the same codes; to stdout or -o FILE, NSRLFile.txt
             alone. RDS 2.x has no column for how a package was verified:
             nsrl-rds's PACKAGE_OBJECT has it.
  hashdeep   hashdeep's own format (size,md5,sha256,filename), for
             hashdeep -k: audits (-a) and matching (-m, -x). A name with a
             newline (or ending in a carriage return) cannot be written in
             it: it is named on stderr and the export exits 3.
  md5sum, sha1sum, sha256sum
             "HASH  PATH" lines, for md5sum -c and friends, and for The
             Sleuth Kit's hfind -i md5sum (or sha1sum).
  xways      X-Ways hash set: a line naming the hash type (MD5, SHA-1 or
             SHA-256, --algo), then one distinct hash a line.
  csv        sha256,sha1,md5,size,mime,source,repo,source_id,path, one row
             per path per source.
  ndjson     file records again, one per path per source, for any other
             tool (jq, hashr-dedup seed, …).
  bloom      a Bloom filter of the sha256 (or --algo sha1) set at the
             false-positive rate --fp-rate, for hashr-lookup --bloom; its
             file format is described in the README.
  dcso-bloom a Bloom filter in DCSO's binary format (github.com/DCSO/bloom,
             Python's flor), as CIRCL hashlookup publishes its own: each
             sample's sha1 (or --algo md5, sha256) in upper-case hex, at the
             false-positive rate --fp-rate, for hashlookup-forensic-analyser
             --bloomfilters FILE and any reader of DCSO's format.

--prefix is put before every path in the formats that carry one
(md5sum and friends, hashdeep, csv, ndjson), e.g. the directory a tree
was unpacked into, so that "md5sum -c" or a hashdeep audit finds the
files. Paths are those of the files inside their sources; a path with a
newline, carriage return or backslash is escaped in md5sum format as
md5sum does (a leading backslash), which md5sum -c reads back. A sample
loaded without the digest a format needs (an md5sum export of samples
hashed with sha256 alone) is no row that format can write: the export
says how many were left out and exits 3.`

const example = `  # An NSRL-style database of everything, for tools that read RDSv3:
  hashr-export --db sqlite:hashr.db --format nsrl-rds -o hashr-rds.db
  sqlite3 hashr-rds.db "SELECT p.name, f.file_name FROM FILE f JOIN PKG p USING (package_id) WHERE f.sha256 = '…'"

  # NSRL RDS 2.x's four files (NSRLFile, NSRLProd, NSRLOS, NSRLMfg.txt):
  mkdir rds2 && hashr-export --db sqlite:hashr.db --format nsrl-2 -o rds2

  # md5sum list of the Debian packages, indexed for The Sleuth Kit:
  hashr-export --db sqlite:hashr.db --format md5sum --repo deb -o deb.md5 && hfind -i md5sum deb.md5

  # Audit an unpacked package against what the database says it holds:
  hashr-export --db sqlite:hashr.db --format hashdeep --source SHA256 --prefix ./ -o pkg.hashdeep
  (cd unpacked && hashdeep -a -k ../pkg.hashdeep -r .)

  # What was loaded this week, as an X-Ways SHA-1 hash set:
  hashr-export --db postgres://hashr@db/hashr --format xways --algo sha1 --since 2026-11-24 > week.txt

  # A Bloom filter at 1 in 10,000 false positives:
  hashr-export --format bloom --fp-rate 0.0001 -o known.bloom

  # A filter for hashlookup-forensic-analyser (DCSO format, upper-case SHA-1):
  hashr-export --format dcso-bloom -o hashr-sha1.bloom
  hashlookup-analyser.py --bloomfilters hashr-sha1.bloom -d /mnt/evidence`

// NewCommand builds hashr-export's command; its work is done by run.
func NewCommand(p *cli.Program) *cobra.Command {
	var o options
	cmd := p.Command("hashr-export --format FORMAT [flags]",
		"Write the hash set in the formats forensic tools read", long, example,
		func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("hashr-export takes no arguments (got %q): name the output with -o", args[0])
			}
			if err := o.validate(); err != nil {
				return err
			}
			return run(ctx, p, &o)
		})
	f := cmd.Flags()
	f.StringVar(&o.dbURL, "db", "sqlite:hashr.db", "database: sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
	f.StringVar(&o.format, "format", "", "output format: "+strings.Join(formats, ", "))
	f.StringVar(&o.repo, "repo", "", "export only the sources of this repository")
	f.StringVar(&o.source, "source", "", "export only this source, by its SHA-256")
	f.StringVar(&o.since, "since", "", "export only the sources first loaded at or after this time (RFC 3339, or YYYY-MM-DD in UTC)")
	f.StringVarP(&o.output, "output", "o", "", "write to this file (created whole or not at all) instead of stdout; for nsrl-2, a directory gets the four RDS 2.x files")
	f.StringVar(&o.algo, "algo", "", "digest of the xways (md5, sha1, sha256; default md5), bloom (sha256, sha1; default sha256) and dcso-bloom (sha1, md5, sha256; default sha1) formats")
	f.Float64Var(&o.fpRate, "fp-rate", 0.001, "false-positive rate of the bloom and dcso-bloom formats")
	f.StringVar(&o.prefix, "prefix", "", "put this before every path (md5sum, sha1sum, sha256sum, hashdeep, csv, ndjson)")
	f.BoolVar(&o.includeFailed, "include-failed", false, "also export the samples of failed sources and members, naming those sources on stderr")
	f.BoolVar(&o.verifiedOnly, "verified-only", false, `export only the samples a verified source vouches for (its "verified" was ok), with their paths there`)
	return cmd
}

func (o *options) validate() error {
	var err error
	if o.loc, err = db.ParseLocation(o.dbURL); err != nil {
		return cli.Usagef("--db: %w", err)
	}
	switch {
	case o.format == "":
		return cli.Usagef("--format is required: one of %s", strings.Join(formats, ", "))
	case !slices.Contains(formats, o.format):
		return cli.Usagef("--format %q: want one of %s", o.format, strings.Join(formats, ", "))
	}
	o.filter.Repo = o.repo
	o.filter.IncludeFailed = o.includeFailed
	o.filter.VerifiedOnly = o.verifiedOnly
	if o.source != "" {
		b, err := hex.DecodeString(o.source)
		if err != nil || len(b) != 32 {
			return cli.Usagef("--source %q: want a source's SHA-256, 64 hex digits", o.source)
		}
		o.filter.Source = b
	}
	if o.since != "" {
		if o.filter.Since, err = parseTime(o.since); err != nil {
			return cli.Usagef("--since: %w", err)
		}
	}
	if err := o.validateAlgo(); err != nil {
		return err
	}
	if o.prefix != "" && !slices.Contains([]string{"md5sum", "sha1sum", "sha256sum", "hashdeep", "csv", "ndjson"}, o.format) {
		return cli.Usagef("--prefix applies to formats with paths (md5sum, sha1sum, sha256sum, hashdeep, csv, ndjson), not %s", o.format)
	}
	return nil
}

// validateAlgo checks --algo and --fp-rate against the format, and
// fills in the format's default digest.
func (o *options) validateAlgo() error {
	takes := map[string][]string{ // the first is the default
		"xways":      {"md5", "sha1", "sha256"},
		"bloom":      {"sha256", "sha1"},
		"dcso-bloom": dcso.Digests,
	}[o.format]
	if takes == nil {
		if o.algo != "" {
			return cli.Usagef("--algo applies to the xways, bloom and dcso-bloom formats, not %s", o.format)
		}
		return nil
	}
	if o.algo == "" {
		o.algo = takes[0]
	}
	if !slices.Contains(takes, o.algo) {
		last := len(takes) - 1
		return cli.Usagef("--algo %q: the %s format takes %s or %s", o.algo, o.format, strings.Join(takes[:last], ", "), takes[last])
	}
	if o.format != "xways" && !(o.fpRate > 0 && o.fpRate < 1) { // NaN too
		return cli.Usagef("--fp-rate %g: want a rate between 0 and 1, e.g. 0.001", o.fpRate)
	}
	return nil
}

// parseTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339 (2026-11-24T08:00:00Z) or a date (2026-11-24)", s)
}
