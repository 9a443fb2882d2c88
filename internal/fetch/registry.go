package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/httpclient"
)

// maxManifest bounds a manifest or index read from a registry.
const maxManifest = 4 << 20

// registryFetcher pulls oci://REGISTRY/REPO:TAG (or @DIGEST) into an OCI
// image layout directory in the work directory: every blob is downloaded
// like any other file (resumed from a .part, checked against its digest
// and size), into NAME.part/ until the image is whole, then the directory
// is renamed to NAME. A pull that fails for good removes NAME.part/; only
// an interrupted one keeps it, for the next run to resume. Credentials
// come from the docker config and its credential helpers
// (authn.DefaultKeychain), as docker, crane and skopeo find them.
type registryFetcher struct {
	blobs    *httpFetcher // its client is replaced per registry
	workDir  string
	platform *v1.Platform
	note     func(string, ...any)
}

func newRegistryFetcher(opts options, note func(string, ...any)) *registryFetcher {
	return &registryFetcher{
		blobs:    newHTTPFetcher(opts, note),
		workDir:  opts.workDir,
		platform: opts.platform,
		note:     note,
	}
}

// closeIdle closes the idle keep-alive connections of every registry's
// client: they share one transport.
func (r *registryFetcher) closeIdle() { r.blobs.closeIdle() }

func (r *registryFetcher) fetch(ctx context.Context, loc *url.URL, want expected) (fetched, error) {
	refText := strings.TrimPrefix(want.uri, "oci://")
	ref, err := name.ParseReference(refText)
	if err != nil {
		return fetched{}, fmt.Errorf("%s is not an image reference (oci://REGISTRY/REPO:TAG or @sha256:…): %w", want.uri, err)
	}
	work, err := openWorkDir(r.workDir)
	if err != nil {
		return fetched{}, err
	}
	defer work.close()
	final := imageWorkName(want.uri, ref)
	if got, ok, err := reuseLayout(work, final, want); err != nil || ok {
		return got, err
	}
	partialName := final + ".part"
	partial, err := lockDir(ctx, work, partialName, r.note)
	if err != nil {
		return fetched{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	defer partial.close()
	// Another worker or run may have finished the image while this one
	// waited for the lock.
	if got, ok, err := reuseLayout(work, final, want); err != nil || ok {
		if ok {
			_ = work.remove(partialName) // made only to hold the lock; empty
		}
		return got, err
	}
	got, err := r.pull(ctx, ref, partial)
	if err == nil {
		err = work.rename(partialName, final)
	}
	if err != nil {
		return fetched{}, giveUpLayout(ctx, work, partialName, err)
	}
	got.local = work.join(final)
	return got, nil
}

// imageWorkName is the name of an image's layout directory in the work
// directory: a work name made of its repository and tag or digest.
func imageWorkName(uri string, ref name.Reference) string {
	return workName(uri, &url.URL{Path: strings.ReplaceAll(ref.Context().RepositoryStr(), "/", "_") + "_" + ref.Identifier()})
}

// giveUpLayout decides what becomes of the NAME.part directory of a pull
// that failed with err, as giveUp does of a file: an interrupted run keeps
// it (and the blobs finished or begun in it) for the next run to resume;
// a pull that failed for good removes it, and the error says so.
func giveUpLayout(ctx context.Context, work *dir, partial string, err error) error {
	path := work.join(partial)
	held := dirSize(path)
	if ctx.Err() != nil && held > 0 {
		return fmt.Errorf("%w (kept %s, %d bytes, for the next run to resume)", err, path, held)
	}
	if rerr := work.removeAll(partial); rerr != nil {
		return fmt.Errorf("%w; removing the partial image %s: %w", err, path, cli.Cause(rerr))
	}
	if held > 0 {
		return fmt.Errorf("%w; removed the partial image %s", err, path)
	}
	return err
}

// pull downloads the image into the layout directory partial; the caller
// renames it into place.
func (r *registryFetcher) pull(ctx context.Context, ref name.Reference, partial *dir) (fetched, error) {
	refText := ref.String()
	pull, err := r.puller(ctx, ref)
	if err != nil {
		return fetched{}, fmt.Errorf("pulling %s: %w", refText, err)
	}
	root, err := pull.manifest(ref)
	if err != nil {
		return fetched{}, fmt.Errorf("pulling %s: %w", refText, err)
	}
	blobs, err := blobsDir(partial)
	if err != nil {
		return fetched{}, fmt.Errorf("pulling %s: %w", refText, err)
	}
	defer blobs.close()
	top := []v1.Descriptor{root.desc}
	if root.desc.MediaType.IsIndex() && r.platform != nil {
		// Only the wanted platform's images: the layout's index.json names
		// them directly, so no manifest it names is missing.
		if top, err = pull.platformManifests(root, *r.platform); err != nil {
			return fetched{}, fmt.Errorf("pulling %s: %w", refText, err)
		}
	}
	var total int64
	for _, d := range top {
		n, err := pull.tree(blobs, d, 0)
		if err != nil {
			return fetched{}, fmt.Errorf("pulling %s: %w", refText, err)
		}
		total += n
	}
	if _, isTag := ref.(name.Tag); isTag {
		for i := range top {
			top[i].Annotations = map[string]string{"org.opencontainers.image.ref.name": ref.Identifier()}
		}
	}
	index, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: top})
	if err != nil {
		return fetched{}, err
	}
	if err := errors.Join(
		partial.writeFile("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)),
		partial.writeFile("index.json", index)); err != nil {
		return fetched{}, fmt.Errorf("writing the layout of %s: %w", refText, err)
	}
	sum := sha256.Sum256(index)
	return fetched{sha256: hex.EncodeToString(sum[:]), size: total}, nil
}

// blobsDir creates (if need be) and opens a layout's blobs/sha256.
func blobsDir(layout *dir) (*dir, error) {
	blobs, err := layout.sub("blobs", true)
	if err != nil {
		return nil, err
	}
	defer blobs.close()
	return blobs.sub("sha256", true)
}

// reuseLayout takes a layout an earlier run finished, name in work, when
// it fits. A link at name, or at its index.json, is an error.
func reuseLayout(work *dir, name string, want expected) (fetched, bool, error) {
	layout, err := work.sub(name, false)
	if errors.Is(err, os.ErrNotExist) {
		return fetched{}, false, nil
	}
	if err != nil {
		return fetched{}, false, fmt.Errorf("checking earlier download: %w", err)
	}
	defer layout.close()
	b, err := layout.readFile("index.json", maxManifest)
	if errors.Is(err, os.ErrNotExist) {
		return fetched{}, false, nil
	}
	if err != nil {
		return fetched{}, false, fmt.Errorf("checking earlier download: %w", err)
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	if want.sha256 != "" && want.sha256 != digest {
		return fetched{}, false, work.removeAll(name)
	}
	return fetched{local: layout.path, sha256: digest, size: dirSize(layout.path)}, true, nil
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	return total
}

// puller reads one repository's manifests with go-containerregistry and
// its blobs with the resumable downloader. Both go through the same
// transport and redirect rules (httpclient.RedirectGuard), and each manifest, like
// each blob, within --max-time.
type puller struct {
	ctx     context.Context
	repo    name.Repository
	opts    []remote.Option // all but the context, which is per manifest
	maxTime time.Duration
	blobs   *httpFetcher
	note    func(string, ...any)
}

func (r *registryFetcher) puller(ctx context.Context, ref name.Reference) (*puller, error) {
	auth, err := authn.DefaultKeychain.Resolve(ref.Context())
	if err != nil {
		return nil, fmt.Errorf("finding credentials: %w", err)
	}
	base := httpclient.RedirectGuard{Next: r.blobs.client.Transport}
	maxTime := r.blobs.limits.maxTime
	// The context bounds the registry's ping and first token request only.
	authCtx, cancel := context.WithTimeoutCause(ctx, maxTime, errMaxTime)
	defer cancel()
	rt, err := transport.NewWithContext(authCtx, ref.Context().Registry, auth, base, []string{ref.Scope(transport.PullScope)})
	if err != nil {
		return nil, fmt.Errorf("authenticating: %w", overMaxTime(ctx, authCtx, maxTime, "asking the registry for access", err))
	}
	blobs := *r.blobs
	blobs.client = httpclient.New(rt)
	return &puller{
		ctx: ctx, repo: ref.Context(), blobs: &blobs, note: r.note, maxTime: maxTime,
		opts: []remote.Option{remote.WithAuth(auth), remote.WithTransport(base),
			remote.WithUserAgent("hashr-fetch"),
			remote.WithRetryBackoff(remote.Backoff{Duration: r.blobs.backoff, Factor: 2, Steps: r.blobs.retries + 1})},
	}, nil
}

// overMaxTime is err, or the --max-time error naming what was being done
// when limited, a context derived from ctx, ended because --max-time
// passed (err then says only that a context ended).
func overMaxTime(ctx, limited context.Context, maxTime time.Duration, what string, err error) error {
	if ctx.Err() == nil && errors.Is(context.Cause(limited), errMaxTime) {
		return fmt.Errorf("%s: %w %s", what, errMaxTime, maxTime)
	}
	return err
}

type manifestDoc struct {
	desc v1.Descriptor
	raw  []byte
}

// manifest reads the manifest or index ref names, within --max-time.
func (p *puller) manifest(ref name.Reference) (*manifestDoc, error) {
	ctx, cancel := context.WithTimeoutCause(p.ctx, p.maxTime, errMaxTime)
	defer cancel()
	d, err := remote.Get(ref, append(p.opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, overMaxTime(p.ctx, ctx, p.maxTime, "reading manifest "+ref.String(), err)
	}
	if len(d.Manifest) > maxManifest {
		return nil, fmt.Errorf("manifest %s is %d bytes, more than any image needs", d.Digest, len(d.Manifest))
	}
	sum := sha256.Sum256(d.Manifest)
	if d.Digest.Algorithm != "sha256" || hex.EncodeToString(sum[:]) != d.Digest.Hex {
		return nil, fmt.Errorf("manifest of %s: its bytes hash to sha256:%x, the registry says %s (%w)", ref, sum, d.Digest, errMismatch)
	}
	if dg, ok := ref.(name.Digest); ok && dg.DigestStr() != d.Digest.String() {
		return nil, fmt.Errorf("manifest of %s is %s (%w)", ref, d.Digest, errMismatch)
	}
	desc := v1.Descriptor{MediaType: d.MediaType, Size: int64(len(d.Manifest)), Digest: d.Digest}
	return &manifestDoc{desc: desc, raw: d.Manifest}, nil
}

func (p *puller) platformManifests(root *manifestDoc, want v1.Platform) ([]v1.Descriptor, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(root.raw))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", root.desc.Digest, err)
	}
	var out []v1.Descriptor
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.Satisfies(want) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no image for platform %s in index %s", want.String(), root.desc.Digest)
	}
	return out, nil
}

// tree downloads a manifest (or index) and everything it names into the
// layout dir, and returns the bytes written.
func (p *puller) tree(blobs *dir, d v1.Descriptor, depth int) (int64, error) {
	if depth > 4 {
		return 0, fmt.Errorf("indexes nested more than 4 deep")
	}
	doc, err := p.manifest(p.repo.Digest(d.Digest.String()))
	if err != nil {
		return 0, err
	}
	if err := blobs.writeFile(d.Digest.Hex, doc.raw); err != nil {
		return 0, fmt.Errorf("writing manifest %s: %w", d.Digest, err)
	}
	total := int64(len(doc.raw))
	mt := doc.desc.MediaType
	switch {
	case mt.IsIndex():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(doc.raw))
		if err != nil {
			return 0, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		for _, m := range idx.Manifests {
			n, err := p.tree(blobs, m, depth+1)
			if err != nil {
				return 0, err
			}
			total += n
		}
	case mt.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(doc.raw))
		if err != nil {
			return 0, fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !b.MediaType.IsDistributable() {
				continue // foreign layers (Windows base images) are not served by the registry
			}
			if err := p.blob(blobs, b); err != nil {
				return 0, err
			}
			total += b.Size
		}
	default:
		return 0, fmt.Errorf("manifest %s has media type %q, neither an image nor an index", d.Digest, mt)
	}
	return total, nil
}

// blob downloads one blob, checked against its digest and size.
func (p *puller) blob(blobs *dir, b v1.Descriptor) error {
	if b.Digest.Algorithm != "sha256" || len(b.Digest.Hex) != 64 {
		return fmt.Errorf("blob digest %q: only sha256 is supported", b.Digest)
	}
	reg := p.repo.Registry
	u := &url.URL{Scheme: reg.Scheme(), Host: reg.RegistryStr(), Path: "/v2/" + p.repo.RepositoryStr() + "/blobs/" + b.Digest.String()}
	size := b.Size
	start := time.Now()
	_, err := p.blobs.fetchTo(p.ctx, u, expected{uri: u.String(), size: &size, sha256: b.Digest.Hex}, blobs, b.Digest.Hex)
	if err != nil {
		return fmt.Errorf("blob %s: %w", b.Digest, err)
	}
	p.note("blob %s: %d bytes in %s", b.Digest, size, time.Since(start).Round(time.Millisecond))
	return nil
}
