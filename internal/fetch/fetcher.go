package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/objstore"
)

// A fetcher makes the bytes of sources of one URI scheme local. A new scheme
// (s3, gs, oci…) is a new fetcher registered in newFetchers.
type fetcher interface {
	// fetch makes the bytes at loc local and hashes them. It checks them
	// against want before handing them on, and removes any file of its own
	// that failed the check or was left incomplete, except the .part of a
	// download interrupted by ctx, kept for the next run to resume. loc is
	// the source's uri, parsed.
	fetch(ctx context.Context, loc *url.URL, want expected) (fetched, error)
}

// fetched is where a source's bytes are and what they hash to.
type fetched struct {
	local  string // absolute path
	sha256 string // lowercase hex
	size   int64
}

// expected is what the source record already says about its bytes.
type expected struct {
	uri    string // as written in the record: names the work file
	size   *int64
	sha256 string
	// placeOnly asks for the bytes to be made local and nothing more (a
	// split WIM's other part, whose digest no record holds): a local file
	// read where it is is then not read through to hash it.
	placeOnly bool
}

// errMismatch marks bytes that are not the ones the record describes.
var errMismatch = errors.New("mismatch")

// check compares bytes of the given size and digest with what the record
// says.
func (e expected) check(size int64, sum string) error {
	if e.size != nil && *e.size != size {
		return fmt.Errorf("size %w: got %d bytes, the record says %d", errMismatch, size, *e.size)
	}
	if e.sha256 != "" && e.sha256 != sum {
		return &sha256Mismatch{got: sum, want: e.sha256}
	}
	return nil
}

// sha256Mismatch is bytes whose SHA-256 is not the record's: for a
// source whose sha256 a signed index gave, bytes other than the ones
// signed.
type sha256Mismatch struct{ got, want string }

func (m *sha256Mismatch) Error() string {
	return fmt.Sprintf("sha256 %v: the bytes hash to %s, the record says %s", errMismatch, m.got, m.want)
}

func (m *sha256Mismatch) Is(target error) bool { return target == errMismatch }

// checkSize compares a size known before reading (a stat, a Content-Length)
// with the record's, so a mismatch fails before any bytes are read.
func (e expected) checkSize(size int64, what string) error {
	if e.size != nil && *e.size != size {
		return fmt.Errorf("size %w: %s says %d bytes, the record says %d", errMismatch, what, size, *e.size)
	}
	return nil
}

// unsupportedScheme is a URI scheme no fetcher handles yet.
type unsupportedScheme string

func (s unsupportedScheme) Error() string {
	return fmt.Sprintf("scheme %s is not supported yet", string(s))
}

// downloadsOff stands in for the remote fetchers under --copy never.
type downloadsOff struct{}

var errDownloadsOff = errors.New("downloading is off (--copy never)")

func (downloadsOff) fetch(_ context.Context, loc *url.URL, _ expected) (fetched, error) {
	return fetched{}, fmt.Errorf("fetching %s: %w", loc.Redacted(), errDownloadsOff)
}

// newFetchers returns the fetcher of every scheme hashr-fetch handles.
// Local paths are scheme "file".
func newFetchers(opts options, temps *tempFiles, note func(string, ...any)) (map[string]fetcher, error) {
	local := &localFetcher{copy: opts.copyMode == copyAlways, workDir: opts.workDir, temps: temps}
	if opts.copyMode == copyNever {
		var off fetcher = downloadsOff{}
		return map[string]fetcher{"file": local, "http": off, "https": off, "s3": off, "gs": off, "oci": off}, nil
	}
	web := newHTTPFetcher(opts, note)
	s3, err := objstore.S3FromEnv()
	if err != nil {
		return nil, cli.Usagef("%w", err)
	}
	s3Fetcher := newHTTPFetcher(opts, note)
	s3Fetcher.remote = s3API{s3}
	gcs, err := objstore.GCSFromEnv()
	if err != nil {
		return nil, cli.Usagef("%w", err)
	}
	gsFetcher := newHTTPFetcher(opts, note)
	gsFetcher.remote = gcsAPI{gcs: gcs, client: gsFetcher.client}
	return map[string]fetcher{
		"file":  local,
		"http":  web,
		"https": web,
		"s3":    s3Fetcher,
		"gs":    gsFetcher,
		"oci":   newRegistryFetcher(opts, note),
	}, nil
}
