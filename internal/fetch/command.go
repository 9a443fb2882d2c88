// Package fetch is hashr-fetch: it makes each source's bytes local
// (downloading remote ones, copying local ones only when asked) and sets the
// source's local path and full SHA-256, verifying its size and any digest the
// source record already carries.
package fetch

import (
	"context"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/sourcesig"
)

// Copy modes: when the bytes of a source are written into the work directory.
const (
	copyAuto   = "auto"   // download remote sources; use local ones where they are
	copyAlways = "always" // also copy local sources into the work directory
	copyNever  = "never"  // download nothing: remote sources fail
)

// options are hashr-fetch's flags, validated.
type options struct {
	workDir        string // absolute
	copyMode       string
	workers        int
	connectTimeout time.Duration
	idleTimeout    time.Duration
	retries        int
	limits         downloadLimits
	platform       *v1.Platform // registry images: only this platform's
	verifyMode     verify.Mode
	sigs           *sourcesig.Checker // --keyring, --roots
	inputs         []string
}

// Main runs hashr-fetch with the given arguments and streams and returns
// its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New("hashr-fetch", stdin, stdout, stderr)
	return p.Execute(NewCommand(p), args)
}

const long = `
hashr-fetch reads records (from stdin, or from the NDJSON files named) and
makes the bytes of each source record local: it sets "local" to an absolute
path holding them and "sha256" to the SHA-256 of all of them, in one pass over
the bytes. When the record has a "size", the bytes must have that size; when it
already has a "sha256" (a registry digest, say), the bytes must hash to it.
A record without a "size" gets one. Records of other types pass through unchanged, and the output keeps the input
order.

Sources whose uri is an absolute path or a file:// URL are used where they
are, unless --copy always copies them into the work directory; an OCI image
layout directory is always used in place, its sha256 that of its index.json.
A split WIM's other parts ("parts", local paths) are read the same way, and
with --copy always copied too, "parts" then naming the copies; its sha256
is part 1's.
Remote sources are downloaded into the work directory, named after the URL
(a hash of it and the URL's base name, so no URL can name a file outside it):

  http://, https://   as they are
  s3://BUCKET/KEY     the S3 API: AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3)
                      for MinIO, Ceph and the like; region AWS_REGION,
                      AWS_DEFAULT_REGION or the profile's; signed with
                      Signature Version 4 by the first credentials of the
                      AWS SDKs' chain: AWS_ACCESS_KEY_ID,
                      AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN);
                      AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (EKS,
                      through STS); the profile AWS_PROFILE (or default)
                      of ~/.aws/config and ~/.aws/credentials
                      (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE); the
                      EC2 instance role (IMDSv2, unless
                      AWS_EC2_METADATA_DISABLED=true). None: unsigned
                      (public buckets)
  gs://BUCKET/OBJECT  the Cloud Storage JSON API: STORAGE_EMULATOR_HOST for
                      an emulator, else Application Default Credentials:
                      GOOGLE_APPLICATION_CREDENTIALS (a service account
                      key), gcloud's application-default login file
                      (CLOUDSDK_CONFIG or ~/.config/gcloud), the GCE/GKE
                      metadata server (GCE_METADATA_HOST). None:
                      unauthenticated (public buckets)
  oci://REGISTRY/REPO:TAG or @sha256:DIGEST
                      an image in a registry, credentials from the docker
                      config and its credential helpers; written as an OCI
                      image layout directory (every platform, or
                      --platform's), its sha256 that of its index.json;
                      an image of one platform adds it to the record's
                      package as arch (os/arch[/variant])

A source hashr-scan refused ("refused":true: it failed verification) is
passed on as it came, with its error and end records: its bytes are not
downloaded, read or copied. A source whose bytes do not hash to the sha256
a signed index gave it ("verified" ok) is refused here the same way: its
record gets "refused":true, "verified" ok false with why, and the sha256
of the bytes refused, then its error record and an end record (errors 1).

A download goes to NAME.part first (an image: NAME.part/, blob by blob) and is
renamed when complete and verified: its size against the record's and the
server's, its SHA-256 against the record's, an S3 ETag or a GCS x-goog-hash
MD5 against the bytes, a registry blob against its digest. A download that
fails for a transient reason (a 5xx or 429 answer, a dropped or silent
connection) is tried again --retries times, resuming from its .part. A source
that still fails, or fails for good (403, 404, bytes that do not verify), is
an error record, and its .part is removed: a failed source leaves nothing in
the work directory, and the error says what was removed. Only an interrupted
run (SIGINT, SIGTERM, or a kill that gives it no chance) leaves .part files,
for the next run to resume; a resumed download is verified like any other,
and one whose bytes do not verify after resuming starts again from byte 0,
once. A complete download is reused by a later run without asking the
server again. A download ends for good (an error record, its .part
removed, no retry) when it takes longer than --max-time, when a body
whose size neither the record nor the server says goes past --max-bytes
(by default: the work directory's free space less --min-free), on a
redirect loop, and on a redirect to anything but http:// or https://.
An image's manifests and indexes are read under the same rules: each
within --max-time, no redirect loop nor redirect to another scheme.

hashr-fetch never follows a symbolic link inside the work directory: a
link (or a file with other hard links) found at a name it would write,
resume, rename or reuse (NAME, NAME.part, a file in an image's NAME.part/)
is an error record naming it, and nothing outside the work directory is
written. Only regular files, directories (OCI image layouts) and block
devices are read as local sources; a FIFO, a socket or a character device
is an error record at once.

Provenance: once a source's bytes are local, a source record without a
"package" gets one from them, with hashr-scan's code (see hashr-scan
--help): a downloaded .deb from its control file, an rpm from its header,
an image tar from its manifests, and a compressed image tar (docker save
| gzip, .tar.xz, .tar.zst of an OCI layout), local or downloaded, which
hashr-scan does not read through, from its manifests and config read
through the decompressor (reference, manifest digest or image ID,
platform). A downloaded file (http, https, s3, gs) is verified as
hashr-scan verifies a local one, into "verified": an rpm's header and
payload signatures against --keyring (by "rpm-header", signer the key's
fingerprint), a cabinet's or .msu's Authenticode signature and chain
against --roots (by "authenticode", signer its subject). --verify try
(the default) records {"ok":false,"by":"none"} with the reason for what
carries no signature (keeping hashr-scan's reason where it gave one); a
signature or digest that fails refuses the source, as hashr-scan refuses
one (see above: "refused":true, its error and end records), and its
download is removed; --verify require also refuses each download that
is not verified ok ("by" its scheme, or "none"); off checks nothing. A verdict
hashr-scan gave from a signed index (apt-release, yum-repomd) is kept:
the bytes are held to that index's sha256 instead. Registry images keep
hashr-scan's verdict.

The work directory defaults to $XDG_CACHE_HOME/hashr/work, or
~/.cache/hashr/work, and is created when first needed.

A source that cannot be fetched (missing file, HTTP error, wrong size or
digest, a URI scheme hashr-fetch does not handle) is not passed on: an error
record naming its id and uri takes its place, the error is reported on
stderr, and the run goes on.`

const example = `  # Hash local sources where they are
  hashr-scan /srv/debs | hashr-fetch | hashr-extract | hashr-hash

  # Download sources listed as URLs into a work directory of your choice
  hashr-scan --urls urls.txt | hashr-fetch --work /var/tmp/hashr-work --workers 8

  # Copy even local sources (e.g. off a slow network share) before extracting
  hashr-fetch --copy always --work /scratch sources.ndjson > fetched.ndjson

  # Objects in a bucket (S3, or MinIO with AWS_ENDPOINT_URL), and images in a registry
  hashr-scan s3://exports/disks/ oci://ghcr.io/org/app | hashr-fetch --work /scratch --workers 8

  # Download signed rpms and cabinets, failing any that no key or root verifies
  hashr-scan --urls urls.txt | hashr-fetch --verify require --keyring RPM-GPG-KEY.asc --roots microsoft-roots.pem

  # Refuse to download anything: remote sources become error records
  hashr-fetch --copy never < sources.ndjson`

// NewCommand builds the hashr-fetch command; Main runs it, and the man page
// generator reads it.
func NewCommand(p *cli.Program) *cobra.Command {
	var (
		opts options
		fl   fetchFlags
	)
	cmd := p.Command("hashr-fetch [flags] [FILE...]",
		"Make each source's bytes local and compute its SHA-256",
		long, example,
		func(ctx context.Context, args []string) error {
			if err := fl.apply(&opts); err != nil {
				return err
			}
			opts.inputs = args
			return run(ctx, p, opts)
		})
	p.AddInputFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&fl.workDir, "work", "", "directory for downloads and copies (default $XDG_CACHE_HOME/hashr/work or ~/.cache/hashr/work)")
	f.StringVar(&fl.copyMode, "copy", copyAuto, "when to write bytes into the work directory: auto (download remote sources only), always (copy local ones too), never (download nothing)")
	f.IntVar(&opts.workers, "workers", 4, "sources fetched in parallel")
	f.DurationVar(&opts.connectTimeout, "connect-timeout", 30*time.Second, "give up connecting to a server (and its TLS handshake) after this long")
	f.DurationVar(&opts.idleTimeout, "idle-timeout", 60*time.Second, "give up on a download when the server sends nothing for this long")
	f.DurationVar(&opts.limits.maxTime, "max-time", defaultMaxTime, "give up on one download (a file, or one manifest or blob of an image), retries included, after this long, however steadily bytes come")
	f.StringVar(&fl.maxBytes, "max-bytes", "", "give up on a download whose size neither the record nor the server says once it passes this many bytes, e.g. 20G (default: the work directory's free space less --min-free)")
	f.StringVar(&fl.minFree, "min-free", cli.FormatSize(defaultMinFree), "free space a download of unknown size leaves on the work directory's file system, unless --max-bytes is set")
	f.IntVar(&opts.retries, "retries", defaultRetries, "times a download that failed for a transient reason (5xx, 429, a dropped or silent connection) is tried again, resuming, before it is an error record")
	f.StringVar(&fl.platform, "platform", "", "registry images: download only this platform (OS/ARCH[/VARIANT]) of a multi-platform image (default: every platform)")
	f.StringVar(&fl.verify, "verify", string(verify.Try), "off, try (verify what carries a signature) or require (a downloaded source nothing verifies is refused); see Provenance above")
	f.StringArrayVar(&fl.keyrings, "keyring", nil, "OpenPGP public keys, binary (.gpg) or armored (.asc), that may sign a downloaded rpm (repeatable), as hashr-scan's")
	f.StringArrayVar(&fl.roots, "roots", nil, "PEM root certificates that a downloaded cabinet's or .msu's Authenticode chain must end at (repeatable), as hashr-scan's; without it the signature is checked and the chain not")
	return cmd
}

// fetchFlags are the flags read as text, validated into options by apply.
type fetchFlags struct {
	workDir, copyMode, platform, maxBytes, minFree, verify string
	keyrings, roots                                        []string
}

// apply validates the flags into opts.
func (fl *fetchFlags) apply(opts *options) error {
	var err error
	if opts.workDir, err = resolveWorkDir(fl.workDir); err != nil {
		return err
	}
	switch fl.copyMode {
	case copyAuto, copyAlways, copyNever:
		opts.copyMode = fl.copyMode
	default:
		return cli.Usagef("--copy %q: want auto, always or never", fl.copyMode)
	}
	if opts.workers < 1 {
		return cli.Usagef("--workers %d: want at least 1", opts.workers)
	}
	if opts.retries < 0 {
		return cli.Usagef("--retries %d: want 0 or more", opts.retries)
	}
	if opts.connectTimeout <= 0 || opts.idleTimeout <= 0 || opts.limits.maxTime <= 0 {
		return cli.Usagef("--connect-timeout, --idle-timeout and --max-time must be positive")
	}
	if err := parseSizeFlags(&opts.limits, fl.maxBytes, fl.minFree); err != nil {
		return err
	}
	if fl.platform != "" {
		pl, err := v1.ParsePlatform(fl.platform)
		if err != nil || pl.OS == "" || pl.Architecture == "" {
			return cli.Usagef("--platform %q: want OS/ARCH[/VARIANT], e.g. linux/amd64", fl.platform)
		}
		opts.platform = pl
	}
	return opts.parseVerify(fl.verify, fl.keyrings, fl.roots)
}

// parseVerify reads --verify, --keyring and --roots.
func (opts *options) parseVerify(mode string, keyrings, roots []string) error {
	var err error
	if opts.verifyMode, err = verify.ParseMode(mode); err != nil {
		return cli.Usagef("%v", err)
	}
	opts.sigs, err = sourcesig.New(keyrings, roots)
	return err
}

// parseSizeFlags reads --max-bytes and --min-free into limits.
func parseSizeFlags(limits *downloadLimits, maxBytes, minFree string) error {
	var err error
	if maxBytes != "" {
		if limits.maxBytes, err = cli.ParseSize(maxBytes); err != nil || limits.maxBytes == 0 {
			return cli.Usagef("--max-bytes %q: want a size greater than 0, e.g. 20G", maxBytes)
		}
	}
	if limits.minFree, err = cli.ParseSize(minFree); err != nil {
		return cli.Usagef("--min-free: %w", err)
	}
	return nil
}

// resolveWorkDir returns the absolute work directory: the one given, or the
// default under the user's cache directory. It is not created here: a run
// that downloads and copies nothing leaves no directory behind.
func resolveWorkDir(dir string) (string, error) { return cli.CacheDir(dir, "work", "--work") }
