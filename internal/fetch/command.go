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

  # Refuse to download anything: remote sources become error records
  hashr-fetch --copy never < sources.ndjson`

// NewCommand builds the hashr-fetch command; Main runs it, and the man page
// generator reads it.
func NewCommand(p *cli.Program) *cobra.Command {
	var (
		opts     options
		workDir  string
		copyMode string
		platform string
		maxBytes string
		minFree  string
	)
	cmd := p.Command("hashr-fetch [flags] [FILE...]",
		"Make each source's bytes local and compute its SHA-256",
		long, example,
		func(ctx context.Context, args []string) error {
			var err error
			if opts.workDir, err = resolveWorkDir(workDir); err != nil {
				return err
			}
			switch copyMode {
			case copyAuto, copyAlways, copyNever:
				opts.copyMode = copyMode
			default:
				return cli.Usagef("--copy %q: want auto, always or never", copyMode)
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
			if err := parseSizeFlags(&opts.limits, maxBytes, minFree); err != nil {
				return err
			}
			if platform != "" {
				pl, err := v1.ParsePlatform(platform)
				if err != nil || pl.OS == "" || pl.Architecture == "" {
					return cli.Usagef("--platform %q: want OS/ARCH[/VARIANT], e.g. linux/amd64", platform)
				}
				opts.platform = pl
			}
			opts.inputs = args
			return run(ctx, p, opts)
		})
	p.AddInputFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&workDir, "work", "", "directory for downloads and copies (default $XDG_CACHE_HOME/hashr/work or ~/.cache/hashr/work)")
	f.StringVar(&copyMode, "copy", copyAuto, "when to write bytes into the work directory: auto (download remote sources only), always (copy local ones too), never (download nothing)")
	f.IntVar(&opts.workers, "workers", 4, "sources fetched in parallel")
	f.DurationVar(&opts.connectTimeout, "connect-timeout", 30*time.Second, "give up connecting to a server (and its TLS handshake) after this long")
	f.DurationVar(&opts.idleTimeout, "idle-timeout", 60*time.Second, "give up on a download when the server sends nothing for this long")
	f.DurationVar(&opts.limits.maxTime, "max-time", defaultMaxTime, "give up on one download (a file, or one manifest or blob of an image), retries included, after this long, however steadily bytes come")
	f.StringVar(&maxBytes, "max-bytes", "", "give up on a download whose size neither the record nor the server says once it passes this many bytes, e.g. 20G (default: the work directory's free space less --min-free)")
	f.StringVar(&minFree, "min-free", cli.FormatSize(defaultMinFree), "free space a download of unknown size leaves on the work directory's file system, unless --max-bytes is set")
	f.IntVar(&opts.retries, "retries", defaultRetries, "times a download that failed for a transient reason (5xx, 429, a dropped or silent connection) is tried again, resuming, before it is an error record")
	f.StringVar(&platform, "platform", "", "registry images: download only this platform (OS/ARCH[/VARIANT]) of a multi-platform image (default: every platform)")
	return cmd
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
