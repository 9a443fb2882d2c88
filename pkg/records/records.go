// Package records defines hashr's NDJSON record contract, documented field
// by field in docs/records.md (and hashr(7), man/hashr.7, made from it):
// the record types that flow between stages, a streaming reader and a
// writer. A record keeps the fields it does not know, so a stage that decodes,
// changes and re-encodes a record never drops what a user added with jq, and
// records of types a stage does not handle pass through as the exact bytes read.
//
// A field or record type added here must be documented in docs/records.md:
// TestContractDocumentsEveryField fails, naming it, until it is.
package records

// Record types, the value of every record's "type" field.
const (
	TypeSource = "source"
	TypeFile   = "file"
	TypeError  = "error"
	TypeEnd    = "end"
	TypePlan   = "plan"
)

// Record is one of the typed records: *Source, *File, *Error, *End or *Plan.
type Record interface {
	// RecordType is the value of the record's "type" field.
	RecordType() string
	// extraFields gives access to the fields the type does not declare.
	extraFields() *Extra
}

// Source is one thing to process: a package, an archive, an image.
type Source struct {
	Repo        string `json:"repo,omitempty"`
	RepoPath    string `json:"repo_path,omitempty"`
	ID          string `json:"id,omitempty"`
	URI         string `json:"uri,omitempty"`
	Format      string `json:"format,omitempty"`
	Size        *int64 `json:"size,omitempty"`
	Mtime       string `json:"mtime,omitempty"`
	QuickSHA256 string `json:"quick_sha256,omitempty"`
	Description string `json:"description,omitempty"`
	Local       string `json:"local,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	// WIMImage makes the source one image of a WIM (a WIM file, or the
	// sources/install.wim or .esd of an install ISO): its index, from 1.
	// 0 is an install ISO without its install image: its other files,
	// with the WIM file itself hashed as one file and not walked. Absent,
	// every image is walked. Set by hashr-scan --split-images.
	WIMImage *int `json:"wim_image,omitempty"`
	// Parts are the other files of a split WIM (.swm) whose part 1 the
	// source is: local paths, in part order (2, 3…). hashr-fetch rewrites
	// them to its copies when it copies the source.
	Parts []string `json:"parts,omitempty"`
	// Package is the software the source is, from its own metadata (a
	// .deb's control file, an rpm's header, a repository's index, a WIM's
	// XML, WSUS's export.csv, an OCI manifest), never from its file name.
	Package *Package `json:"package,omitempty"`
	// Verified says who vouched for the source's bytes, and how; absent,
	// nothing was checked (--verify off, or a stage before hashr-scan's
	// verification existed).
	Verified *Verified `json:"verified,omitempty"`
	// Refused says the source failed verification (Verified says how):
	// its error and end records follow it at once, and no stage reads
	// its bytes; hashr-load records its job failed. See Refuse.
	Refused bool `json:"refused,omitempty"`

	Extra Extra `json:"-"`
}

// Package identifies the software a source is, as its publisher names it.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"` // deb: VERSION; rpm: [EPOCH:]VERSION-RELEASE; WIM: build; OCI: tag
	Arch    string `json:"arch,omitempty"`    // deb/rpm architecture, WIM architecture, OCI platform (os/arch[/variant])
	Vendor  string `json:"vendor,omitempty"`  // deb Maintainer, rpm Vendor, WIM/WSUS "Microsoft", OCI registry
	// Edition, KB and Digest hold what only some kinds have: a WIM
	// image's edition (EDITIONID), a WSUS update's KB article, an OCI
	// image's manifest digest.
	Edition string `json:"edition,omitempty"`
	KB      string `json:"kb,omitempty"`
	Digest  string `json:"digest,omitempty"`
	// Title is the publisher's one-line name for it: a WSUS update's
	// title, a WIM image's display name, a package's summary.
	Title string `json:"title,omitempty"`
	// OS is the operating system the package is of, where the source's
	// own metadata says it: an apt suite's Release ("Debian 12"), an
	// rpm's DISTRIBUTION (else OS) tag, a WIM image's product and
	// version, a WSUS product, an OCI image's platform os[ os.version].
	OS string `json:"os,omitempty"`
}

// Verified says whether a source's bytes verified, by what scheme, and who
// signed them. By "none" with OK false records that nothing signs the
// source (--verify try); a failed check is a refused source (Refuse):
// OK false, By the scheme that refused it, Detail why, and an error
// record.
type Verified struct {
	OK     bool   `json:"ok"`
	By     string `json:"by"`               // apt-release, rpm-header, yum-repomd, authenticode, none
	Signer string `json:"signer,omitempty"` // key fingerprint (upper-case hex) or certificate subject
	Detail string `json:"detail,omitempty"` // what was checked, or why nothing could be
}

// File is one regular file found inside a source.
type File struct {
	Source  string `json:"source,omitempty"`
	Path    string `json:"path"`
	PathRaw string `json:"path_raw,omitempty"`
	Size    *int64 `json:"size,omitempty"`
	// Mode holds the permission bits (with setuid, setgid and sticky) as
	// octal digits, e.g. "0755", the way ls and stat show them.
	Mode  string `json:"mode,omitempty"`
	Mtime string `json:"mtime,omitempty"`
	Local string `json:"local,omitempty"`
	// FS is the file system of a disk image's file ("ext4", "xfs"…).
	FS string `json:"fs,omitempty"`
	// Image names the image of a multi-image container (a WIM) the file
	// is in: the image's name and edition from the WIM's XML.
	Image string `json:"image,omitempty"`

	MD5    string `json:"md5,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	SHA512 string `json:"sha512,omitempty"`
	CRC32  string `json:"crc32,omitempty"`
	BLAKE3 string `json:"blake3,omitempty"`
	SSDEEP string `json:"ssdeep,omitempty"`
	TLSH   string `json:"tlsh,omitempty"`
	MIME   string `json:"mime,omitempty"`
	Seen   *bool  `json:"seen,omitempty"`
	// Verified is the Authenticode check of a PE member (.exe, .dll,
	// .sys…) that hashr-extract --verify-members made; absent, none was.
	Verified *Verified `json:"verified,omitempty"`

	Extra Extra `json:"-"`
}

// Error reports something that failed. Source holds the source's sha256, or
// before that is known its uri; ID and URI name the source for people.
type Error struct {
	Stage   string `json:"stage"`
	Source  string `json:"source,omitempty"`
	ID      string `json:"id,omitempty"`
	URI     string `json:"uri,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`

	Extra Extra `json:"-"`
}

// End closes a source: what the stages emitted for it and the time each spent.
type End struct {
	Source string `json:"source"`
	Files  int64  `json:"files"`
	Errors int64  `json:"errors"`
	Bytes  int64  `json:"bytes"`
	// MS maps a stage name to the wall milliseconds it spent on the source.
	MS map[string]int64 `json:"ms,omitempty"`

	Extra Extra `json:"-"`
}

// Plan announces the sources that follow it in the stream, so that the
// stage drawing a pipeline's progress line can count against totals and
// say how long is left. hashr-scan writes one before its first source;
// every other stage passes it through unchanged. Several plans in one
// stream (outputs of several scans concatenated) add up.
type Plan struct {
	// Sources is how many source records follow.
	Sources int64 `json:"sources"`
	// Bytes is the sum of their size fields.
	Bytes int64 `json:"bytes"`

	Extra Extra `json:"-"`
}

func (*Source) RecordType() string { return TypeSource }
func (*File) RecordType() string   { return TypeFile }
func (*Error) RecordType() string  { return TypeError }
func (*End) RecordType() string    { return TypeEnd }
func (*Plan) RecordType() string   { return TypePlan }

func (r *Source) extraFields() *Extra { return &r.Extra }
func (r *File) extraFields() *Extra   { return &r.Extra }
func (r *Error) extraFields() *Extra  { return &r.Extra }
func (r *End) extraFields() *Extra    { return &r.Extra }
func (r *Plan) extraFields() *Extra   { return &r.Extra }

// Int64 returns a pointer to n, for the optional size fields.
func Int64(n int64) *int64 { return &n }

// Int returns a pointer to n, for the optional wim_image field.
func Int(n int) *int { return &n }

// Bool returns a pointer to b, for the optional seen field.
func Bool(b bool) *bool { return &b }
