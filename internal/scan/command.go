// Package scan is hashr-scan: it walks repositories (directories, or single
// files), tells each file's format from its bytes, and writes one source
// record per source found, with HashR's quick_sha256.
package scan

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/sourcesig"
)

// Main runs hashr-scan with args and the given streams, and returns the
// exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New("hashr-scan", stdin, stdout, stderr)
	return p.Execute(NewCommand(p), args)
}

var long = `
hashr-scan walks each REPO (a directory, a single file, or a remote place:
see below), tells every
file's format from its magic bytes (never its name), and writes one source
record per source to stdout: repo, repo_path (REPO as given), id (the file
name), uri (absolute path), format, size, mtime and quick_sha256. It reads
no input. Records come in a fixed order: REPOs in the order given, each
walked depth-first in lexical order (filepath.WalkDir's order).

Formats: ` + formatList + `.
A tar may be compressed with gzip, bzip2, xz, zstd, lz4 or lzma; a compressed
file holding something else (a gzipped disk image, say) has the format of
what is inside. "disk" is a raw disk image with a valid MBR or GPT, or a bare
file system (ext2/3/4, XFS, NTFS, FAT, exFAT). A docker archive is a tar with
a manifest.json at its top; "docker save" output that is also an OCI layout
counts as a docker archive.

OCI image layouts: a directory holding an oci-layout file and index.json is
one source (format oci) and is not walked into. Its id is the directory's
name, size the total size of the files in it, mtime that of index.json, and
quick_sha256 the SHA-256 of index.json.

Default repo (without --repo), HashR's importer names:
  deb -> deb, rpm -> rpm, zip -> zip, tar -> targz, iso9660 -> iso9660,
  wim -> windows, cab -> wsus, docker-archive and oci -> container,
  disk, qcow2, vmdk, vhd, vhdx and squashfs -> disk,
  any other format -> the format's name.

quick_sha256 is HashR's quick hash: the SHA-256 of the whole file when it is
smaller than 20 MiB, else of its first 10 MiB followed by its last 10 MiB.

Zip archives count only when their extension is one of --zip-exts (as in
HashR's zip importer), and only when they hold zip magic: "lib.jar" that is
not a zip is skipped too. Files of no known format, zips with other
extensions and special files (fifos, sockets, devices) are skipped and
counted on stderr; --verbose lists each. A special file is never opened, so
a FIFO never blocks the scan: a directory whose oci-layout is one is walked
as an ordinary directory, and an export.csv that is one is an error message. Symbolic links are followed, to
files and directories; a directory reached twice (a link loop) is walked
once. A path that cannot be read (permission denied, a broken link, an I/O
error) gives an error record and a message, and the walk goes on.

Remote REPOs (credentials as hashr-fetch reads them):
  oci://REGISTRY/REPO       one source per tag, uri oci://REGISTRY/REPO:TAG,
                            format oci; oci://REGISTRY/REPO:TAG or @DIGEST
                            is that one image. quick_sha256 is the hex of
                            the manifest digest the tag points at.
  s3://BUCKET/PREFIX        one source per object under PREFIX, in key order
  gs://BUCKET/PREFIX        (credentials from the AWS and Google chains:
                            environment, profile or gcloud files, EKS/GKE
                            workload identity, instance metadata; see
                            hashr-fetch --help).
                            size and mtime from the listing; format from the
                            object's first bytes (a range request or two);
                            quick_sha256 from the listing rather than a
                            download: the SHA-256 of "md5:HEXMD5:SIZE"
                            when the listing gives the MD5 (GCS always, S3
                            for objects uploaded whole, whose ETag is their
                            MD5), else of "etag:ETAG:SIZE" (S3 multipart
                            uploads). The record also carries "md5" and
                            "etag" as the listing gave them.
  http(s)://HOST/PATH       one source; size and mtime from a HEAD request,
                            quick_sha256 HashR's own (range requests for the
                            first and last 10 MiB).
--urls FILE adds the URLs in FILE, one a line.
Each request to a registry, bucket or URL ends after --max-time, however
steadily bytes come (an error record for that REPO or source, and the
scan goes on); redirects are followed as hashr-fetch follows them: to
http:// and https:// only, never back to a URL already asked for, 10 at
most, each refusal an error record at once.

Windows install media:
  A split WIM (install.swm, install2.swm…; parts told by their headers,
  not their names) is one source: part 1's record (uri, size,
  quick_sha256 and id of part 1) with "parts", the other parts' absolute
  paths in part order. A set whose parts are not all found is an error
  record naming the missing part numbers, once the walk is done.
  --split-images makes a source per image, as HashR's windows importer
  does: of a WIM or ESD, one per image, with "wim_image" the image's
  index (1, 2…), id FILE:INDEX (install.wim:2), description the image's
  name and edition from the WIM's XML, and quick_sha256 the SHA-256 of
  "wim-image:GUID:INDEX:METADATA-SHA1" (the image's identity, read from
  the WIM's tables without reading its files, so an image is known again
  in another medium). Of an ISO holding sources/install.wim or
  install.esd, one per image of that WIM (id NAME.iso:INDEX), and one more
  for the rest of the ISO, "wim_image": 0 (id NAME.iso:0, quick_sha256 the
  SHA-256 of "without-wim-images:" and the ISO's quick_sha256): its other
  files, with the WIM file hashed as one file. Every one of them keeps the
  file's uri, size and (after hashr-fetch) sha256; hashr-extract walks
  only what wim_image selects, at the paths a whole walk gives
  (install.wim!/2/...). A WIM that cannot be split stays one source, with
  a warning.

Package identity: a source's "package" ({name, version, arch, vendor,
edition, kb, digest, title, os}) comes from its own metadata, never its file
name: a .deb's control file (Package, Version, Architecture, Maintainer as
vendor, Description's first line as title; the small control member alone
is read), or its entry in an apt mirror's signed Packages index; an RPM's
header (name, [EPOCH:]VERSION-RELEASE, arch, vendor, summary as title), or
its entry in a yum/dnf repository's primary index (repodata/repomd.xml);
a WIM image's XML (name, EDITIONID as edition, MAJOR.MINOR.BUILD.SPBUILD
as version, the architecture wimlib-imagex names, DISPLAYNAME as title,
vendor Microsoft Corporation when the XML says Windows), per image with
--split-images, or for a WIM of one image; a WSUS update's export.csv line
(its KB as name and kb, its title); an OCI layout's (or layout tar's)
index and config, or a docker archive's manifest.json and config (the
annotated reference as name and tag as version, else the manifest digest
as name; the manifest digest, or a docker archive's image ID; os/arch
[/variant] as arch); a registry image's reference and manifest digest
(hashr-fetch adds its platform). Its "os" is the operating system the
source's own metadata says it is of: an apt suite's Release (Origin and
Version, "Debian 12", or Origin and Codename where there is no Version;
a .deb outside a mirror has none), an RPM header's DISTRIBUTION tag, else
its OS tag (as rpm -qp --qf '%{DISTRIBUTION} %{OS}' prints them; a yum
repository's rpms too, whose index names none), a WIM image's Product Name
and version (where the XML says Windows), a WSUS update's product where
export.csv's header names a column for it after HashR's four (Product,
Products or ProductTitles), an OCI image's platform os and os.version. Each field is valid UTF-8 and at most 256 bytes; a source
whose metadata names no package has none.

With --db (the database hashr-load fills), a source whose job is done
there is skipped, as HashR skips the sources it has processed; a failed
or partial job (some members failed) is retried, and --reprocess QUICK_SHA256,... emits those sources even
though their job is done. A HashR database (hashr-load --schema hashr)
works too: its "exported" jobs count as done.

Before the sources comes a plan record, {"type":"plan","sources":N,
"bytes":B}: how many source records follow and the sum of their sizes, for
the stage that draws the pipeline's progress line (see --progress) to count
against. The sources are held back until the scan is done to know them; a
scan that finds more than about 90,000 sources (32 MiB of records) writes
them as it goes, without a plan. --plan=false writes no plan and each
source as soon as it is found.

Verification (--verify, default try) gives each source "verified":
{"ok", "by", "signer" (the key's fingerprint), "detail"}, by the first
check of its kind:
  apt-release  a .deb of an apt mirror (a REPO holding dists/, or an
               http(s)://…/dists/SUITE URL): each suite's InRelease, or
               Release with Release.gpg, against the --keyring files, then
               each Packages(.xz|.gz) against the Release's SHA256 and
               size; the .deb gets its entry's sha256, which hashr-fetch
               holds its bytes to. detail "NAME VERSION (ARCH) in
               SUITE/INDEX".
  yum-repomd   an rpm of a yum/dnf repository (the nearest directory from
               the rpm's up to the REPO holding repodata/repomd.xml):
               repomd.xml against repomd.xml.asc, primary.xml against
               repomd's checksum, the rpm's size against its entry; the
               rpm gets primary.xml's sha256 for hashr-fetch.
  rpm-header   any other local rpm, read whole: its header signature
               against --keyring, header SHA-256, payload digest and sizes,
               as rpm -K.
  none         everything else ("ok":false, detail says why): tarballs,
               zips, ISOs, images, packages a signed index does not
               list, and signed ones when no --keyring is given.
A remote rpm, cabinet or .msu that no signed index lists gets no
"verified" from hashr-scan, which reads only its first bytes: hashr-fetch
checks its own signature (rpm-header, authenticode) once it holds the
bytes, with the same code, under its own --verify, --keyring and --roots.
A failure (a key not in --keyring, an index, repomd.xml, primary.xml or
rpm altered after signing, a size its signed entry does not give) refuses
the source: its record says "refused":true and "verified":{"ok":false,
"by" the check that failed, "detail" why}, with the sha256 of its bytes
(read here, for a local source), and is followed at once by its error
record and an end record (errors 1, files 0); the exit status is 3. No
stage reads a refused source's bytes, and hashr-load records it and its
failed job, so the set says it was tried and refused. --verify require
also refuses every "none" source ("by":"none"); off checks nothing and
sets no "verified".

An http(s) REPO whose path ends in /dists/SUITE is a suite of a remote apt
mirror: its indexes are fetched and verified as above, and each package
they list is a source (uri ROOT/FILENAME, format deb, size and sha256 from
the index; quick_sha256 the index's sha256 for a package under 20 MiB,
HashR's quick hash of it, else read with range requests).

A cabinet (WSUS .cab, and a .msu that is one) has its Authenticode
signature checked: the digest over its bytes, the signer's signature, and
the certificate chain up to the --roots certificates, for code signing, at
the signing time when a timestamp (RFC 3161 or the legacy countersignature)
whose authority also chains to --roots vouches for it, else now. It gets
"verified":{"ok":true,"by":"authenticode","signer":SUBJECT,"detail":...};
without --roots the chain is not checked: "ok":false, the detail says so,
and --verify require refuses it. A cabinet altered after signing, or
whose chain does not end at --roots, is refused as above. An unsigned
cabinet and a WIM-based .msu (no signature of its own) get "by":"none";
a remote cabinet is left to hashr-fetch, as above.`

const example = `  # Everything in a mirror, with the default repo names:
  hashr-scan ~/mirror | jq -r '[.format, .id] | @tsv'

  # Debian packages only, under one repo label, into the pipeline:
  hashr-scan --repo debian-bookworm --formats deb /var/cache/apt/archives | hashr-fetch | hashr-extract

  # Python wheels and eggs count as zip sources; list what was skipped and why:
  hashr-scan --zip-exts whl,egg --verbose ./site-packages > sources.ndjson

  # Only what the database does not hold yet, and one package again:
  hashr-scan --db sqlite:hashr.db --reprocess 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 ~/mirror

  # Every tag of a registry repository, objects in buckets, a list of URLs:
  hashr-scan oci://ghcr.io/org/app s3://images/exports/ gs://my-bucket/disks/ --urls urls.txt

  # Windows install media, a source per edition (and split WIMs as one):
  hashr-scan --split-images ~/isos | hashr-fetch | hashr-extract --hash sha256

  # A signed apt mirror, local or remote, and a yum repository; fail what nothing signs:
  hashr-scan --verify require --keyring /usr/share/keyrings/debian-archive-keyring.gpg https://deb.debian.org/debian/dists/bookworm
  hashr-scan --keyring RPM-GPG-KEY-fedora.asc ~/fedora/Everything/x86_64/os

  # Single files are REPOs too:
  HASHR_FORMATS=iso9660,udf hashr-scan install.iso backup.img`

var formatList = strings.Join(magic.Formats(), ", ")

// scanFlags are hashr-scan's flags as given.
type scanFlags struct {
	repo, formats, zipExts string
	db, reprocess          string
	urls                   string
	splitImages            bool
	plan                   bool
	verify                 string
	keyrings               []string
	roots                  []string

	maxTime time.Duration
}

// NewCommand returns hashr-scan's command; it is also used to write the man
// page.
func NewCommand(p *cli.Program) *cobra.Command {
	var flags scanFlags
	cmd := p.Command("hashr-scan [flags] REPO...",
		"Find sources in repositories and detect their formats",
		long, example,
		func(ctx context.Context, args []string) error {
			opts, args, err := flags.options(ctx, args)
			if err != nil {
				return err
			}
			return run(ctx, p, opts, args)
		})
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 && !cmd.Flags().Changed("urls") && os.Getenv("HASHR_URLS") == "" {
			return cli.Usagef("no REPO given: name at least one directory, file or URL to scan, or --urls FILE")
		}
		return nil
	}
	f := cmd.Flags()
	f.StringVar(&flags.repo, "repo", "", "repo name for every source (default: the importer name for its format, see above)")
	f.StringVar(&flags.formats, "formats", "", "only emit sources of these formats, comma-separated (default: all)")
	f.StringVar(&flags.zipExts, "zip-exts", defaultZipExts, "file extensions that count as zip sources, comma-separated, case-insensitive")
	f.StringVar(&flags.db, "db", "", "skip sources whose job is done in this database (sqlite:PATH or postgres://…, as hashr-load's --db)")
	f.StringVar(&flags.urls, "urls", "", "also scan the URLs in this file, one a line (http(s)://, s3://, gs://, oci://; blank lines and # comments are skipped)")
	f.BoolVar(&flags.splitImages, "split-images", false, "a source per image of a WIM or ESD, and of an ISO's sources/install.wim or .esd (plus one of the rest of the ISO), with wim_image set (see above)")
	f.BoolVar(&flags.plan, "plan", true, "write a plan record (the number of sources and their total size) before the sources, holding them back until the scan is done; --plan=false writes each source as it is found")

	f.DurationVar(&flags.maxTime, "max-time", defaultMaxTime, "give up on one request to a registry, bucket or URL (a page of tags or objects, a manifest, a URL's size or bytes) after this long, however steadily bytes come")
	f.StringVar(&flags.verify, "verify", string(verify.Try), "off, try (verify what carries a signature) or require (a source nothing signs is refused); see Verification above")
	f.StringArrayVar(&flags.keyrings, "keyring", nil, "OpenPGP public keys, binary (.gpg) or armored (.asc), that may sign an apt mirror's Release, a yum repository's repomd.xml or an rpm (repeatable), e.g. /usr/share/keyrings/debian-archive-keyring.gpg")
	f.StringArrayVar(&flags.roots, "roots", nil, "PEM root certificates that cabinets' and .msu files' Authenticode chains must end at (repeatable); without it the signature is checked and the chain not")
	f.StringVar(&flags.reprocess, "reprocess", "", "quick_sha256 values of sources to emit even though their job is done, comma-separated")
	return cmd
}

// options turns the flags into a scan's options, and adds the URLs of
// --urls to the REPOs in args.
func (flags *scanFlags) options(ctx context.Context, args []string) (options, []string, error) {
	opts, err := newOptions(flags.repo, flags.formats, flags.zipExts)
	if err != nil {
		return opts, nil, err
	}
	opts.splitImages = flags.splitImages
	opts.plan = flags.plan
	mode, err := verify.ParseMode(flags.verify)
	if err != nil {
		return opts, nil, cli.Usagef("%v", err)
	}
	own, err := sourcesig.New(flags.keyrings, flags.roots)
	if err != nil {
		return opts, nil, err
	}
	opts.verify = newVerifiers(mode, own)
	if flags.maxTime <= 0 {
		return opts, nil, cli.Usagef("--max-time must be positive")
	}
	opts.net = newRemoteNet(flags.maxTime)
	opts.net.keys, opts.net.verifyMode = own.Keys, mode
	if flags.urls != "" {
		urls, err := readURLList(flags.urls)
		if err != nil {
			return opts, nil, err
		}
		args = append(args, urls...)
	}
	if len(args) == 0 {
		return opts, nil, cli.Usagef("no REPO given: name at least one directory, file or URL to scan, or --urls FILE")
	}
	opts.jobs, err = newJobFilter(ctx, flags.db, flags.reprocess)
	return opts, args, err
}

// readURLList reads --urls: one URL a line.
func readURLList(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, cli.Usagef("--urls: %w", cli.Cause(err))
	}
	defer f.Close()
	var urls []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if remoteScheme(line) == "" {
			return nil, cli.Usagef("--urls %s:%d: %q is not an http(s)://, s3://, gs:// or oci:// URL", file, n, line)
		}
		urls = append(urls, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading --urls %s: %w", file, err)
	}
	return urls, nil
}
