// Package extract is hashr-extract: it turns each source record into one
// file record per regular file inside the source (a package, an archive,
// an ISO image), then the source's end record. Member bytes are spooled
// under a directory for hashr-hash, or with --hash hashed on the fly.
package extract

import (
	"context"
	"io"
	"os"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/internal/sandbox"
	"github.com/hashr-dev/hashr/internal/unpack"
)

// SandboxChildEnv is sandbox.ChildEnv, for a test binary that calls Main
// in-process: the sandbox's children are that binary, run with this
// variable set to "1", and it must then run Main (before its tests).
const SandboxChildEnv = sandbox.ChildEnv

// Main runs hashr-extract with the given arguments and streams; as a
// sandbox child (SandboxChildEnv set), sandbox.ChildMain.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if os.Getenv(sandbox.ChildEnv) == "1" {
		return sandbox.ChildMain("hashr-extract", stdin, stdout, stderr)
	}
	p := cli.New("hashr-extract", stdin, stdout, stderr)
	return p.Execute(NewCommand(p), args)
}

// options are the parsed flags.
type options struct {
	spool   string
	workers int
	// walk is what every source's walk is asked (its Algos 0: spool
	// mode), in this process or in a sandbox child.
	walk       unpack.Settings
	inputs     []string
	cleanSpool bool
	sandbox    sandboxOptions
	members    memberVerification // --verify-members, --roots (authverify.go)
}

const long = `
Reads source records (from hashr-scan or hashr-fetch) and writes, for each
source, the source record, one file record per regular file inside it, and
an end record. Formats are told by their magic bytes: Debian packages, RPM
packages, tar (plain or compressed with gzip, bzip2, xz, zstd, lz4 or
lzma), zip and the formats built on it (jar, whl, egg, apk, nupkg, docx…),
ISO 9660 images (Rock Ridge and Joliet names), 7z, cpio, ar, single
compressed files (x.gz holds x), disk and VM images: raw, qcow2, VMDK,
VHD and VHDX disks, their GPT or MBR partitions and LVM2 logical volumes,
and the ext2/3/4, XFS, NTFS, FAT, exFAT, squashfs, ISO 9660 and UDF file
systems on them (or a bare file system
image), read in place without mounting. A disk image's files are named
under their volume (p1/etc/passwd, lvm/VG/LV/etc/passwd; no prefix for a
bare file system), and their records carry the file system in "fs". A
volume that cannot be read is an error record, and the others still come
out. Container images: OCI image layouts
(directories, or packed in a tar) and docker archives ("docker save"),
their tars plain or compressed (docker save | gzip): a compressed image
tar is decompressed to a temporary file and walked as the image.

A container image gives every file of every layer, as
LAYER-DIGEST/PATH (what HashR's GCR importer hashed; whiteout marks
are not files and are left out). With --flatten it gives only the files of
the final file system instead: the layers applied in order, whiteouts
(.wh.NAME) deleting, opaque directories (.wh..wh..opq) hiding what the
layers below had, and hard links resolved (a file kept only through a link
has the link's name). A source holding several images (the platforms of a
multi-platform index, or a docker archive of several) puts each image's
files under OS-ARCH[-VARIANT]/ (or MANIFEST-DIGEST/ when platforms
do not tell them apart); --platform keeps one. Each layer is checked
against its digest. Images in registries are fetched first
(hashr-fetch writes them as OCI layout directories).

Windows: WIM and ESD images (every image, as N/PATH), split WIMs (the
source is part 1, its "parts" the others: all are opened, checked by GUID
and part number), cabinets, MSI and other OLE files. A source with
"wim_image" N (hashr-scan --split-images) is that image alone, still as
N/PATH, of a WIM or of an install ISO's sources/install.wim or .esd
(sources/install.wim!/N/PATH); "wim_image" 0 is such an ISO without it
(the WIM file hashed as one file, not walked). An image the WIM does not
have is an error record naming those it has.

By default each file's bytes are spooled under --spool DIR/<source sha256>/
at the file's path, and the record's "local" names them, for hashr-hash
(whose --delete removes them once hashed). With --hash ALGOS the bytes are
hashed as they stream by and nothing is written.

How deep a source is walked depends on its kind (--max-depth auto, the
default), as HashR's importers walk them; a member walked is a file record
too, its own members following as "outer!/inner" paths:
  - Windows updates (.cab, .msu, .msi, .msp): every nested cabinet, MSI or
    MSP and their embedded cabinets (PATCH_CAB), and the WIM of a WIM-based
    .msu, down to the files (x.msu!/inner.cab!/FILE);
  - install media (an ISO 9660 or UDF disc holding sources/install.wim or
    .esd; a WIM or ESD; a split WIM): every image of the WIM
    (sources/install.wim!/N/PATH);
  - disk and VM images: their partitions, volumes and file systems;
  - packages and archives (deb, rpm, tar.*, zip, jar, whl, 7z, cpio, ar,
    container layers): their members only (a jar inside a package is one
    file, as HashR hashes it).
--max-depth N overrides this for every kind: N levels of containers below
the source's members, whatever their kind (0: the members alone, even of an
update). A tar whose only file is an archive or disk image, and a
compressed single file, are always unwrapped. Every level counts towards
--max-members, --max-ratio and the byte limits.

Sources are extracted in parallel (--workers) and written in input order.
Every input is untrusted: absolute paths, paths climbing out with "..",
paths through symlinks, decompression bombs and archives that contain
themselves give error records, and nothing is ever written outside the
spool. The limits below stop what no real software needs; each one reached
is an error record for the member or the source. The holes of a sparse tar
member (GNU tar -S) are bytes it expands to, counted by every limit like a
decompressor's output; a spooled member is written sparse. A member named
as the archive's root (".", "/", "./") that holds bytes is an error record.

Each source is parsed in a child process of its own (a sandbox): on Linux
with Landlock it can read only the source and the programs it runs (xz),
write only the source's spool directory and a temporary directory, and make
no TCP connection; rlimits bound its memory (--sandbox-memory), CPU time
(--sandbox-cpu), file sizes (--max-source-bytes) and open files. It holds
no capability, even run as root, and can gain none (no_new_privs); a
seccomp filter denies it, and the programs it runs, mounts, ptrace, kernel
modules, keyrings, BPF, namespaces and every socket; it inherits no file
descriptor but its own streams. One child
parses up to --sandbox-sources packages and archives in turn (starting one
costs as much as parsing a small package): each is handed to it as an open
file, and it can open no source by its path; it spools into its own
temporary directory, moved into place once the source is done. A parser that crashes, or goes over
a limit, ends only its source, with an error record saying how (a source
that fails in a shared child is first parsed again in a child of its own);
what it had spooled is removed. --verbose says what the kernel enforced.
--no-sandbox parses in-process, for debugging (said even with --quiet).

A run killed outright (kill -9) leaves its temporary directory and the spool
directories of its unfinished sources; the next run over the same --spool,
or --clean-spool, removes them, never touching those of a live run or of
sources whose end record was written.

Other record types pass through unchanged, and so does a refused source
("refused":true: it failed verification), which is not opened. A source record without sha256
or local (straight from hashr-scan, with a local uri) is accepted: what is
missing is computed. Members of a .deb are named as installed
(usr/bin/bash); --deb-control adds the control members as control!/NAME.

--verify-members checks the Authenticode signature of each PE member
(.exe, .dll, .sys, .efi, .ocx, .cpl, .scr, .drv) from its bytes as they
are copied: the digest, the signer's signature and, with --roots FILE (PEM
root certificates, repeatable), the chain up to them at the signing time
a timestamp vouches for. Its file record gets "verified": {"ok":true,
"by":"authenticode","signer":SUBJECT,...}; without --roots "ok" is false
and the detail says the chain was not checked; a member with no embedded
signature (Windows signs many files by catalog, not checked here) is
"by":"none". A member whose signature does not match its bytes or chain
to --roots is an error record besides its file record (exit 3).`

const example = `  # Debian packages to file records, bytes spooled for hashr-hash:
  hashr-scan /var/cache/apt/archives | hashr-extract --spool /var/tmp/spool | hashr-hash --delete

  # Hash on the fly, writing nothing:
  hashr-scan ~/isos | hashr-extract --hash md5,sha1,sha256 > files.ndjson

  # Also the members of jars, wheels and tarballs inside packages, 2 levels deep:
  hashr-scan ~/mirror | hashr-extract --hash sha256 --max-depth 2

  # A WSUS export's updates to their files (the default, --max-depth auto):
  hashr-scan --repo wsus /srv/wsus/WsusContent | hashr-extract --hash sha256

  # After a run was killed with kill -9, remove what it left in the spool:
  hashr-extract --spool /var/tmp/spool --clean-spool`

// rawFlags are the flags whose text is parsed once the command runs.
type rawFlags struct {
	hashList                      string
	maxSource, maxMember, minFree string
	maxMembers, maxRatio          int64
	platform                      string
	parseSandbox                  func() error
}

// parse checks the flags and sets what they say in opts.
func (f *rawFlags) parse(opts *options) error {
	if f.hashList != "" {
		set, err := digest.Parse(f.hashList)
		if err != nil {
			return cli.Usagef("--hash: %v", err)
		}
		opts.walk.Algos = set
	}
	if opts.workers < 1 {
		return cli.Usagef("--workers must be at least 1, not %d", opts.workers)
	}
	if err := f.parseLimits(opts); err != nil {
		return err
	}
	if f.platform != "" {
		pl, err := v1.ParsePlatform(f.platform)
		if err != nil || pl.OS == "" || pl.Architecture == "" {
			return cli.Usagef("--platform %q: want OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8", f.platform)
		}
		opts.walk.Platform = pl
	}
	spool, err := cli.CacheDir(opts.spool, "spool", "--spool")
	if err != nil {
		return err
	}
	opts.spool = spool
	if err := opts.members.load(); err != nil {
		return err
	}
	opts.walk.VerifyMembers, opts.walk.Roots = opts.members.on, opts.members.pem
	return f.parseSandbox()
}

// parseLimits sets the limits the flags give.
func (f *rawFlags) parseLimits(opts *options) error {
	lim := &opts.walk.Limits
	*lim = unpack.DefaultLimits
	for _, l := range []struct {
		flag string
		val  string
		dst  *int64
	}{{"--max-source-bytes", f.maxSource, &lim.SourceBytes},
		{"--max-member-bytes", f.maxMember, &lim.MemberBytes},
		{"--min-free", f.minFree, &lim.MinFree}} {
		n, err := cli.ParseSize(l.val)
		if err != nil {
			return cli.Usagef("%s: %v", l.flag, err)
		}
		*l.dst = n
	}
	if f.maxMembers < 1 {
		return cli.Usagef("--max-members must be at least 1")
	}
	if f.maxRatio < 1 {
		return cli.Usagef("--max-ratio must be at least 1")
	}
	lim.Members, lim.Ratio = f.maxMembers, f.maxRatio
	return nil
}

// NewCommand builds the hashr-extract command.
func NewCommand(p *cli.Program) *cobra.Command {
	var (
		opts options
		raw  rawFlags
	)
	cmd := p.Command("hashr-extract [flags] [RECORDS.ndjson...]",
		"Turn each source into the file records of the files inside it", long, example,
		func(ctx context.Context, args []string) error {
			opts.inputs = args
			if err := raw.parse(&opts); err != nil {
				return err
			}
			if opts.cleanSpool && len(args) > 0 {
				return cli.Usagef("--clean-spool reads no records: drop the file arguments")
			}
			return run(ctx, p, opts)
		})
	p.AddInputFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.spool, "spool", "",
		"directory for the members' bytes, one subdirectory per source (with --hash: for temporary files only); default $XDG_CACHE_HOME/hashr/spool or ~/.cache/hashr/spool, the user's own")
	fl.StringVar(&raw.hashList, "hash", "", "hash members on the fly with these digests (e.g. md5,sha1,sha256; any of "+
		strings.ReplaceAll(digest.Names(), ",", ", ")+") and spool nothing")
	fl.IntVar(&opts.workers, "workers", runtime.NumCPU(), "sources extracted at once")
	opts.walk.MaxDepth = unpack.AutoDepth
	fl.Var(&opts.walk.MaxDepth, "max-depth", "how deep to walk containers inside a source: auto, what a source of its kind is made of (see above), or N levels below its members, whatever their kind (0: the members alone)")
	fl.BoolVar(&opts.walk.Flatten, "flatten", false, "container images: only the files of the final file system (layers applied), instead of every file of every layer; and spool every member under a numbered name in its source's directory, instead of at its path")
	fl.StringVar(&raw.platform, "platform", "", "container images: only the image of this platform (OS/ARCH[/VARIANT]) of a multi-platform index (default: every platform)")
	fl.BoolVar(&opts.walk.DebControl, "deb-control", false, "also emit the control members of .deb packages, as control!/NAME")
	fl.BoolVar(&opts.walk.SystemFiles, "system-files", false, "also emit the file systems' own bookkeeping files of disk images (the ext journal as $journal)")
	fl.StringVar(&raw.maxSource, "max-source-bytes", unpack.FormatSize(unpack.DefaultLimits.SourceBytes, ""), "limit on the bytes of all members of one source")
	fl.StringVar(&raw.maxMember, "max-member-bytes", unpack.FormatSize(unpack.DefaultLimits.MemberBytes, ""), "limit on the bytes of one member")
	fl.Int64Var(&raw.maxMembers, "max-members", unpack.DefaultLimits.Members, "limit on the members of one source, nested ones included")
	fl.Int64Var(&raw.maxRatio, "max-ratio", unpack.DefaultLimits.Ratio, "limit on how many times its size a source may decompress to, sparse tar holes included (applies past 64M)")
	fl.StringVar(&raw.minFree, "min-free", unpack.FormatSize(unpack.DefaultLimits.MinFree, ""), "stop spooling a source when the spool's file system has less free")
	fl.BoolVar(&opts.cleanSpool, "clean-spool", false, "remove what interrupted runs left in --spool (their temporary files, and the spool directories of sources whose end record never went out), then exit")
	addMemberVerificationFlags(fl, &opts.members)
	raw.parseSandbox = addSandboxFlags(fl, &opts.sandbox)
	return cmd
}
