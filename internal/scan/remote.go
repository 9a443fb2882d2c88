package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hashr-dev/hashr/internal/httpclient"
	"github.com/hashr-dev/hashr/internal/identity"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/objstore"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/pkg/records"
)

// Remote REPOs: a registry repository (oci://REGISTRY/REPO) is one source
// per tag; a bucket prefix (s3://BUCKET/PREFIX, gs://BUCKET/PREFIX) one
// source per object; an http(s) URL one source.

// remoteScheme is the scheme of a REPO that names a remote place, or "".
func remoteScheme(repo string) string {
	scheme, _, ok := strings.Cut(repo, "://")
	if !ok {
		return ""
	}
	switch s := strings.ToLower(scheme); s {
	case "oci", "s3", "gs", "http", "https":
		return s
	}
	return ""
}

// remoteObject is a remote source found by a listing, to inspect: its
// record so far, and how to read its bytes to tell its format.
type remoteObject struct {
	src *records.Source
	// read gets bytes [off, off+n) of the object; nil when the format is
	// known already (a registry image).
	read func(ctx context.Context, off, n int64) (io.ReadCloser, error)
	// quickFromBytes: quick_sha256 is HashR's quick hash of the bytes
	// (an http(s) URL); otherwise the listing set it.
	quickFromBytes bool
	// formatKnown: the listing gave format and size (a remote apt
	// mirror's index), so read serves only the quick hash.
	formatKnown bool
}

// scanTransport is the connection pool of remote scans.
var scanTransport = &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   30 * time.Second,
	ResponseHeaderTimeout: 60 * time.Second,
	DisableCompression:    true,
	MaxIdleConnsPerHost:   8,
}

// remoteNet is how hashr-scan talks to registries, buckets and URLs:
// each request within --max-time, redirects followed under
// httpclient's rules (no loop, no scheme but http and https).
type remoteNet struct {
	client   *http.Client      // buckets and URLs
	registry http.RoundTripper // under go-containerregistry's own client
	// keys and verifyMode check a remote apt mirror's indexes, which
	// its listing is made from (--keyring, --verify).
	keys       openpgp.EntityList
	verifyMode verify.Mode
}

func newRemoteNet(maxTime time.Duration) *remoteNet {
	rt := deadlineTransport{next: scanTransport, maxTime: maxTime}
	return &remoteNet{client: httpclient.New(rt), registry: httpclient.RedirectGuard{Next: rt}}
}

// walkRemote lists a remote REPO.
func (rn *remoteNet) walkRemote(ctx context.Context, repo string) iter.Seq[entry] {
	return func(yield func(entry) bool) {
		fail := func(err error) {
			yield(entry{kind: unreadable, path: repo, abs: repo, repoPath: repo, err: err})
		}
		emit := func(o *remoteObject) bool {
			o.src.RepoPath = repo
			return yield(entry{kind: remoteSource, path: o.src.URI, abs: o.src.URI, repoPath: repo, remote: o})
		}
		var err error
		switch remoteScheme(repo) {
		case "oci":
			err = rn.listTags(ctx, repo, emit)
		case "s3":
			err = rn.listS3(ctx, repo, emit)
		case "gs":
			err = rn.listGCS(ctx, repo, emit)
		default:
			if root, suite, ok := aptSuiteURL(repo); ok {
				err = rn.listAptSuite(ctx, root, suite, emit)
			} else {
				emit(rn.urlObject(repo))
			}
		}
		if err != nil {
			fail(err)
		}
	}
}

var errStop = errors.New("stop")

// listTags makes one source per tag of a registry repository. Its
// quick_sha256 is the hex of the tag's manifest digest (what the tag
// points at, told by a HEAD request): two tags of one image share it, and
// a tag moved to a new image gets a new one.
func (rn *remoteNet) listTags(ctx context.Context, repo string, emit func(*remoteObject) bool) error {
	repoText := strings.TrimSuffix(strings.TrimPrefix(repo, repo[:len("oci://")]), "/")
	if strings.ContainsAny(path.Base(repoText), ":@") {
		// A single image: oci://REGISTRY/REPO:TAG or @DIGEST.
		ref, err := name.ParseReference(repoText)
		if err != nil {
			return fmt.Errorf("%s is not an image reference: %w", repo, err)
		}
		return rn.headImage(ctx, ref, emit)
	}
	r, err := name.NewRepository(repoText)
	if err != nil {
		return fmt.Errorf("%s is not a registry repository (oci://REGISTRY/REPO): %w", repo, err)
	}
	tags, err := remote.List(r, rn.registryOptions(ctx)...)
	if err != nil {
		return fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	for _, tag := range tags {
		if err := rn.headImage(ctx, r.Tag(tag), emit); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// registryOptions are go-containerregistry's options for one listing
// request.
func (rn *remoteNet) registryOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithTransport(rn.registry), remote.WithUserAgent("hashr-scan")}
}

func (rn *remoteNet) headImage(ctx context.Context, ref name.Reference, emit func(*remoteObject) bool) error {
	desc, err := remote.Head(ref, rn.registryOptions(ctx)...)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", ref, err)
	}
	src := &records.Source{
		ID:          path.Base(ref.Context().RepositoryStr()) + sepFor(ref) + ref.Identifier(),
		URI:         "oci://" + ref.String(),
		Format:      magic.OCI,
		QuickSHA256: desc.Digest.Hex,
		Package:     identity.OCIReference(ref.String(), desc.Digest.String()),
	}
	if !emit(&remoteObject{src: src}) {
		return errStop
	}
	return nil
}

func sepFor(ref name.Reference) string {
	if _, ok := ref.(name.Digest); ok {
		return "@"
	}
	return ":"
}

// bucketPrefix splits s3://BUCKET/PREFIX.
func bucketPrefix(repo string) (string, string, error) {
	u, err := url.Parse(repo)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("%q is not a bucket URL (%s://BUCKET/PREFIX)", repo, remoteScheme(repo))
	}
	return u.Host, strings.TrimPrefix(u.Path, "/"), nil
}

// listingQuick is the quick_sha256 of a listed object, which the listing
// gives without a download: the SHA-256 of "md5:<hex md5>:<size>" when the
// listing gives the bytes' MD5 (GCS always; S3 for an object uploaded in
// one piece, whose ETag is its MD5), else of "etag:<etag>:<size>" (an S3
// multipart upload's ETag, stable for as long as the object is).
func listingQuick(o objstore.Object) string {
	s := fmt.Sprintf("etag:%s:%d", o.ETag, o.Size)
	if o.MD5 != "" {
		s = fmt.Sprintf("md5:%s:%d", o.MD5, o.Size)
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func objectSource(scheme, bucket string, o objstore.Object) *records.Source {
	src := &records.Source{
		ID:          path.Base(o.Key),
		URI:         scheme + "://" + bucket + "/" + o.Key,
		Size:        records.Int64(o.Size),
		QuickSHA256: listingQuick(o),
	}
	if !o.Modified.IsZero() {
		src.Mtime = records.Time(o.Modified)
	}
	src.Extra = records.Extra{}
	if o.MD5 != "" {
		src.Extra["md5"] = []byte(`"` + o.MD5 + `"`)
	}
	if o.ETag != "" {
		src.Extra["etag"] = []byte(fmt.Sprintf("%q", o.ETag))
	}
	return src
}

func (rn *remoteNet) listS3(ctx context.Context, repo string, emit func(*remoteObject) bool) error {
	s3, err := objstore.S3FromEnv()
	if err != nil {
		return err
	}
	bucket, prefix, err := bucketPrefix(repo)
	if err != nil {
		return err
	}
	err = s3.List(ctx, rn.client, bucket, prefix, func(o objstore.Object) error {
		if strings.HasSuffix(o.Key, "/") {
			return nil // a "folder" placeholder
		}
		u := s3.ObjectURL(bucket, o.Key)
		read := func(ctx context.Context, off, size int64) (io.ReadCloser, error) {
			return rn.rangeGet(ctx, u, off, size, s3.Sign)
		}
		if !emit(&remoteObject{src: objectSource("s3", bucket, o), read: read}) {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

func (rn *remoteNet) listGCS(ctx context.Context, repo string, emit func(*remoteObject) bool) error {
	gcs, err := objstore.GCSFromEnv()
	if err != nil {
		return err
	}
	bucket, prefix, err := bucketPrefix(repo)
	if err != nil {
		return err
	}
	err = gcs.List(ctx, rn.client, bucket, prefix, func(o objstore.Object) error {
		if strings.HasSuffix(o.Key, "/") {
			return nil
		}
		u := gcs.ObjectURL(bucket, o.Key)
		read := func(ctx context.Context, off, size int64) (io.ReadCloser, error) {
			return rn.rangeGet(ctx, u, off, size, func(req *http.Request) error { return gcs.Authorize(ctx, rn.client, req) })
		}
		if !emit(&remoteObject{src: objectSource("gs", bucket, o), read: read}) {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// urlObject is an http(s) URL given as a REPO or in --urls: its size and
// mtime come from a HEAD request when the source is inspected.
func (rn *remoteNet) urlObject(raw string) *remoteObject {
	u, err := url.Parse(raw)
	id := raw
	if err == nil {
		id = path.Base(u.Path)
	}
	o := &remoteObject{src: &records.Source{ID: id, URI: raw}, quickFromBytes: true}
	o.read = func(ctx context.Context, off, size int64) (io.ReadCloser, error) {
		if err != nil {
			return nil, err
		}
		return rn.rangeGet(ctx, u, off, size, nil)
	}
	return o
}

// rangeGet asks for bytes [off, off+n) of u.
func (rn *remoteNet) rangeGet(ctx context.Context, u *url.URL, off, n int64, sign func(*http.Request) error) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "hashr-scan")
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	if sign != nil {
		if err := sign(req); err != nil {
			return nil, err
		}
	}
	resp, err := rn.client.Do(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		return resp.Body, nil
	case http.StatusOK:
		// No ranges: skip to off, and read no more than asked.
		if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, n), resp.Body}, nil
	case http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		return io.NopCloser(strings.NewReader("")), nil
	}
	detail := objstore.ErrorDetail(resp)
	resp.Body.Close()
	return nil, &objstore.StatusError{Code: resp.StatusCode, Status: resp.Status, Detail: detail}
}

// headURL finds an http(s) source's size and mtime.
func (rn *remoteNet) headURL(ctx context.Context, raw string) (int64, time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, raw, nil)
	if err != nil {
		return 0, time.Time{}, err
	}
	req.Header.Set("User-Agent", "hashr-scan")
	resp, err := rn.client.Do(req)
	if err != nil {
		return 0, time.Time{}, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, time.Time{}, &objstore.StatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	if resp.ContentLength < 0 {
		return 0, time.Time{}, errors.New("the server does not say the size")
	}
	mtime, _ := http.ParseTime(resp.Header.Get("Last-Modified"))
	return resp.ContentLength, mtime, nil
}

// maxDetectRequests bounds the range requests one format detection makes.
const maxDetectRequests = 64

// remoteReaderAt reads a remote object at random, in blocks of at least
// 64 KiB, so magic.Detect costs a request or two.
type remoteReaderAt struct {
	ctx      context.Context
	o        *remoteObject
	size     int64
	blocks   map[int64][]byte
	requests int
}

const remoteBlock = 64 << 10

func (r *remoteReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		start := pos - pos%remoteBlock
		b, ok := r.blocks[start]
		if !ok {
			if r.requests >= maxDetectRequests {
				return n, io.EOF // enough to tell a format by
			}
			r.requests++
			body, err := r.o.read(r.ctx, start, min(remoteBlock, r.size-start))
			if err != nil {
				return n, err
			}
			b, err = io.ReadAll(io.LimitReader(body, remoteBlock))
			body.Close()
			if err != nil {
				return n, err
			}
			r.blocks[start] = b
		}
		in := pos - start
		if in >= int64(len(b)) {
			return n, io.ErrUnexpectedEOF
		}
		n += copy(p[n:], b[in:])
	}
	return n, nil
}

// remoteQuickSHA256 is HashR's quick hash of a remote object, read with
// two range requests at most.
func remoteQuickSHA256(ctx context.Context, o *remoteObject, size int64) (string, error) {
	h := sha256.New()
	parts := [][2]int64{{0, size}}
	if size >= 2*quickChunk {
		parts = [][2]int64{{0, quickChunk}, {size - quickChunk, quickChunk}}
	}
	for _, part := range parts {
		if part[1] == 0 {
			continue
		}
		body, err := o.read(ctx, part[0], part[1])
		if err != nil {
			return "", fmt.Errorf("computing quick_sha256: %w", err)
		}
		n, err := io.Copy(h, io.LimitReader(body, part[1]))
		body.Close()
		if err != nil {
			return "", fmt.Errorf("computing quick_sha256: %w", err)
		}
		if n != part[1] {
			return "", fmt.Errorf("computing quick_sha256: the server sent %d of %d bytes", n, part[1])
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// inspectRemote tells a remote source's format from its first bytes and
// completes its record.
func inspectRemote(ctx context.Context, opts options, e entry) outcome {
	o := e.remote
	src := o.src
	if o.read != nil && !o.formatKnown {
		if o.quickFromBytes {
			size, mtime, err := opts.net.headURL(ctx, src.URI)
			if err != nil {
				return outcome{entry: e, verdict: failed, err: fmt.Errorf("asking for its size: %w", err)}
			}
			src.Size = records.Int64(size)
			if !mtime.IsZero() {
				src.Mtime = records.Time(mtime)
			}
		}
		res, err := magic.Detect(&remoteReaderAt{ctx: ctx, o: o, size: *src.Size, blocks: map[int64][]byte{}}, *src.Size)
		if err != nil {
			return outcome{entry: e, verdict: failed, err: fmt.Errorf("detecting the format: %w", err)}
		}
		src.Format = res.Format
	}
	out := outcome{entry: e, format: src.Format}
	switch {
	case src.Format == "":
		out.verdict = unknownFormat
		return out
	case src.Format == magic.Zip && !opts.zipExtAllowed(src.ID):
		out.verdict = zipExtension
		return out
	case !opts.wants(src.Format):
		out.verdict = formatFilter
		return out
	}
	if o.quickFromBytes {
		quick, err := remoteQuickSHA256(ctx, o, *src.Size)
		if err != nil {
			return outcome{entry: e, verdict: failed, err: err}
		}
		src.QuickSHA256 = quick
	}
	src.Repo = opts.repoFor(src.Format)
	out.verdict, out.source = emitted, src
	return out
}
