// Package serve is hashr-serve: it answers lookups from a hash set over
// HTTP, with the API of CIRCL's hashlookup (github.com/adulau/hashlookup-
// server's bin/server.py: paths, status codes, JSON field names, messages
// and bytes), so that its clients (PyHashlookup, MISP's module,
// hashlookup-forensic-analyser) work unchanged against a set of one's
// own, and with a page for people at /. It reads the database that
// hashr-load wrote and never writes it: SQLite is opened read-only, and
// every PostgreSQL transaction is read-only.
package serve

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
)

// Main runs hashr-serve with the given arguments and streams, and returns
// its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New("hashr-serve", stdin, stdout, stderr)
	p.StopsOnSignal = true
	return p.Execute(NewCommand(p), args)
}

// options are hashr-serve's flags.
type options struct {
	dbURL         string
	listen        string
	addrFile      string
	logFormat     string
	tokenFile     string
	corsOrigin    string
	maxBulk       int
	maxBulks      int
	includeFailed bool
	bloomFPRate   float64

	loc      db.Location
	token    string
	quietLog bool
}

const long = `
hashr-serve answers "is this hash known, and where from?" over HTTP, from
a database written by hashr-load (SQLite or PostgreSQL), which it only
reads. It speaks CIRCL hashlookup's API, so its clients (PyHashlookup,
MISP's hashlookup module, hashlookup-forensic-analyser) work unchanged:

  GET  /lookup/md5/HASH, /lookup/sha1/HASH, /lookup/sha256/HASH
       200 with MD5, SHA-1, SHA-256, CRC32 (upper-case hex), FileName,
       FileSize (a string), mimetype, parents (the sources holding the
       file, each with FileName and ProductCode: the source's package
       name and version, or for a source without a package those of a
       Debian or RPM file name; all of at most 15, else the first 10 by
       SHA-256), hashlookup:parent-total (all of them: /parents pages
       through the rest), hashlookup:trust, and hashr:sources (repo, ids,
       uri, paths and status of each source, and its package and
       verified where it has them, the first 100); 404 {"message": "Non existing
       MD5", "query": HASH}; 400 for a value that is not hex of the length.
  POST /bulk/md5, /bulk/sha1, /bulk/sha256 with {"hashes": [...]}
       the records found, in one or two database queries; hashes of the
       wrong form are left out, as CIRCL does; 400 for a body that is not JSON, 404
       without "hashes" (CIRCL's status), 413 over --max-bulk hashes.
  GET  /parents/HASH/COUNT/CURSOR, /children/HASH/COUNT/CURSOR
       a file's sources (upper-case SHA-256) or a source's files (SHA-1),
       COUNT at a time (0: 100), from CURSOR (0 first), with "cursor" (0
       after the last page) and "total"; HASH is an MD5, SHA-1 or SHA-256.
  GET  /info        set size, sources, repositories, last load, versions
  GET  /stats/top   the hashes most asked for, counted in memory only
  GET  /bloom/ALGO  the set (trusted samples) as a Bloom filter in DCSO's
       format, as hashr-export --format dcso-bloom writes it, for md5, sha1
       or sha256; built on first request and kept, with an ETag, while the
       set is unchanged
  GET  /healthz     200 when the database answers
  GET  /            a page: look up one hash or many, hash a local file in
       the browser (nothing is uploaded), browse sources and the set

Only what a trusted source vouches for is known, as with hashr-lookup:
samples of failed sources or failed members are unknown unless
--include-failed.

Every request is held to limits: headers within 10 s and 16 KiB, the
request within 60 s, bulk bodies to --max-bulk hashes, each database query
to 30 s. An access log line per request goes to stderr (--log-format json
for one JSON object per line; --quiet for none). With --token-file, every
request but /healthz needs "Authorization: Bearer TOKEN". Browsers on
other sites may read answers only with --cors-origin. SIGINT or SIGTERM
stops it: requests in flight get 15 s to finish, and the exit status is 0.

On PostgreSQL, a server just started reads nearly every key's pages from
the OS; the README ("Serving the set") says how to keep the set's indexes
in shared memory with pg_prewarm, and how large they are. hashr-serve
collects its garbage at GOGC=400 (less CPU, some 30 MiB more memory)
unless GOGC is set.

Bulk lookups (of more than one hash) wait in line, first come first
served, --max-bulks at a time (default: one per CPU of this machine); a
lookup of one hash never waits. A bulk of 1,000 keeps a database core
busy for some 15 ms: sent together, more bulks than the database has
cores share them and each is preempted by the others, where in line
each runs through in turn. The default fits a PostgreSQL (or SQLite) on this
machine; for one elsewhere, give its number of cores (a number above
the clients' is no line).`

const example = `  # Serve a set on this machine, and ask it:
  hashr-serve --db sqlite:hashr.db --listen 127.0.0.1:8080
  curl -s http://127.0.0.1:8080/lookup/sha1/DA39A3EE5E6B4B0D3255BFEF95601890AFD80709 | jq .parents

  # Many at once:
  curl -s -d '{"hashes": ["D41D8CD98F00B204E9800998ECF8427E"]}' http://127.0.0.1:8080/bulk/md5

  # With CIRCL's Python client:
  python3 -c 'from pyhashlookup import Hashlookup; print(Hashlookup(root_url="http://127.0.0.1:8080").info())'

  # A PostgreSQL set on the network, for holders of a token, logs as JSON:
  HASHR_DB=postgres://hashr@db/hashr hashr-serve --listen :8080 --token-file /etc/hashr/token --log-format json`

// NewCommand builds hashr-serve's command; its work is done by run.
func NewCommand(p *cli.Program) *cobra.Command {
	var o options
	cmd := p.Command("hashr-serve [flags]",
		"Answer hash lookups over HTTP with CIRCL hashlookup's API, and a page for people", long, example,
		func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q: hashr-serve takes flags only", args[0])
			}
			if err := o.validate(); err != nil {
				return err
			}
			o.quietLog = p.Quiet
			return run(ctx, p, &o)
		})
	f := cmd.Flags()
	f.StringVar(&o.dbURL, "db", "sqlite:hashr.db", "database: sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on, HOST:PORT (port 0: any free one)")
	f.StringVar(&o.addrFile, "addr-file", "", "write the address listened on to this file once listening (for --listen HOST:0)")
	f.StringVar(&o.logFormat, "log-format", "text", "access log on stderr: text or json")
	f.StringVar(&o.tokenFile, "token-file", "", "require 'Authorization: Bearer TOKEN' with the token in this file")
	f.StringVar(&o.corsOrigin, "cors-origin", "", "let pages of this origin (e.g. https://misp.example) read answers (default: none)")
	f.IntVar(&o.maxBulk, "max-bulk", 2000, fmt.Sprintf("most hashes in one bulk request (1 to %d)", db.MaxServeBatch))
	f.IntVar(&o.maxBulks, "max-bulks", 0, "bulk lookups at the database at once, the others waiting in turn (0: one per CPU of this machine)")
	f.BoolVar(&o.includeFailed, "include-failed", false, "also answer from failed sources and members (marked \"failed\")")
	f.Float64Var(&o.bloomFPRate, "bloom-fp-rate", 0.0001, "false-positive rate of the Bloom filters /bloom serves")
	return cmd
}

func (o *options) validate() error {
	var err error
	if o.loc, err = db.ParseLocation(o.dbURL); err != nil {
		return cli.Usagef("--db: %v", err)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return cli.Usagef("--log-format %q: want text or json", o.logFormat)
	}
	if o.maxBulk < 1 || o.maxBulk > db.MaxServeBatch {
		return cli.Usagef("--max-bulk %d: want 1 to %d", o.maxBulk, db.MaxServeBatch)
	}
	if o.maxBulks == 0 {
		o.maxBulks = runtime.NumCPU()
	}
	if o.maxBulks < 0 {
		return cli.Usagef("--max-bulks %d: want 0 (one per CPU) or more", o.maxBulks)
	}
	if !(o.bloomFPRate > 0 && o.bloomFPRate < 1) {
		return cli.Usagef("--bloom-fp-rate %g: want a rate between 0 and 1", o.bloomFPRate)
	}
	if o.corsOrigin != "" && o.corsOrigin != "*" && !strings.Contains(o.corsOrigin, "://") {
		return cli.Usagef("--cors-origin %q: want an origin such as https://misp.example, or *", o.corsOrigin)
	}
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return cli.Usagef("--token-file: %v", cli.Cause(err))
		}
		if o.token = strings.TrimSpace(string(b)); o.token == "" || strings.ContainsAny(o.token, " \t\r\n") {
			return cli.Usagef("--token-file %q: want one token on one line, with no spaces", o.tokenFile)
		}
	}
	return nil
}

func run(ctx context.Context, p *cli.Program, o *options) error {
	r, err := db.OpenReader(ctx, o.loc)
	if err != nil {
		return err
	}
	defer r.Close()
	r.IncludeFailed = o.includeFailed
	// Requests run side by side, each on a connection of its own: the
	// bulks admitted, and the singles, which never wait for them.
	r.SetMaxConns(max(8, 2*runtime.NumCPU(), o.maxBulks+runtime.NumCPU()))
	defer cli.CollectLessOften(serveGCPercent)()
	return serve(ctx, p, newServer(r, o, newAccessLog(p, o.logFormat == "json")), o)
}

// writeAddrFile writes the address, whole, by renaming a finished file.
func writeAddrFile(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing the address to --addr-file %q: %w", path, cli.Cause(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the address to --addr-file %q: %w", path, cli.Cause(err))
	}
	return nil
}
