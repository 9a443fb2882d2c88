package scan

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/identity"

	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/objstore"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/apt"
	"github.com/hashr-dev/hashr/pkg/records"
)

// A remote apt mirror's suite, http(s)://HOST/ROOT/dists/SUITE, is listed
// from its signed indexes: InRelease (or Release and Release.gpg), then
// each Packages index the Release lists, fetched over http and checked as
// a local mirror's are; each package it lists is a source with the
// index's sha256 and size, verified with the suite.

// aptSuiteURL splits a URL naming a suite of an apt mirror into the
// mirror's root and the suite's path under it (dists/SUITE); ok is false
// for any other URL.
func aptSuiteURL(raw string) (root, suite string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", "", false
	}
	before, after, found := strings.Cut(u.Path, "/dists/")
	name := strings.Trim(after, "/")
	if !found || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	u.Path = before
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimSuffix(u.String(), "/"), "dists/" + name, true
}

// listAptSuite verifies a remote suite's indexes and emits a source per
// package they list.
func (rn *remoteNet) listAptSuite(ctx context.Context, root, suite string, emit func(*remoteObject) bool) error {
	suiteURL := root + "/" + suite
	fsys := &httpFS{ctx: ctx, client: rn.client, base: suiteURL}
	rel, err := apt.ReadReleaseFS(fsys, suiteURL, rn.keys)
	if rel == nil || (err != nil && rn.verifyMode == verify.Require) {
		return err // a Release that failed verification lists nothing
	}
	for _, idx := range rel.PackageIndexesFS(fsys) {
		pkgs, err := rel.ReadPackagesFS(fsys, suiteURL, idx)
		if err != nil {
			return err
		}
		for _, p := range pkgs {
			if !emit(rn.aptPackageObject(root, suite, idx, p, rel)) {
				return nil
			}
		}
	}
	return nil
}

// aptPackageObject is the source of a package a signed index lists: its
// size, sha256 and format from the index; its quick_sha256 the index's
// sha256 when it is under 20 MiB (HashR's quick hash of such a file is
// its SHA-256), else read with range requests.
func (rn *remoteNet) aptPackageObject(root, suite, idx string, p apt.Package, rel *apt.Release) *remoteObject {
	raw := root + "/" + p.Filename
	u, err := url.Parse(raw)
	src := &records.Source{ID: path.Base(p.Filename), URI: raw, Format: magic.Deb, Size: records.Int64(p.Size), SHA256: p.SHA256,
		Package: identity.AptEntry(p, rel)}
	res := rel.Verified
	if res.OK {
		res.Detail = fmt.Sprintf("%s %s (%s) in %s/%s", p.Package, p.Version, p.Architecture, path.Base(suite), idx)
	}
	src.Verified = &res
	o := &remoteObject{src: src, formatKnown: true}
	if p.Size < 2*quickChunk {
		src.QuickSHA256 = p.SHA256
		return o
	}
	o.quickFromBytes = true
	o.read = func(ctx context.Context, off, size int64) (io.ReadCloser, error) {
		if err != nil {
			return nil, err
		}
		return rn.rangeGet(ctx, u, off, size, nil)
	}
	return o
}

// httpFS reads a remote directory's files with GET requests, for the
// apt package's readers.
type httpFS struct {
	ctx    context.Context
	client *http.Client
	base   string
}

func (h *httpFS) get(method, name string) (*http.Response, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	req, err := http.NewRequestWithContext(h.ctx, method, h.base+"/"+name, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "hashr-scan")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return nil, &fs.PathError{Op: "open", Path: h.base + "/" + name, Err: fs.ErrNotExist}
	}
	return nil, fmt.Errorf("GET %s/%s: %w", h.base, name, &objstore.StatusError{Code: resp.StatusCode, Status: resp.Status})
}

func (h *httpFS) Open(name string) (fs.File, error) {
	resp, err := h.get(http.MethodGet, name)
	if err != nil {
		return nil, err
	}
	return &httpFile{body: resp.Body, info: httpInfo{name: path.Base(name), size: resp.ContentLength}}, nil
}

// Stat asks with a HEAD request, so that choosing an index variant
// downloads none.
func (h *httpFS) Stat(name string) (fs.FileInfo, error) {
	resp, err := h.get(http.MethodHead, name)
	if err != nil {
		return nil, err
	}
	return httpInfo{name: path.Base(name), size: resp.ContentLength}, nil
}

type httpFile struct {
	body io.ReadCloser
	info httpInfo
}

func (f *httpFile) Read(p []byte) (int, error) { return f.body.Read(p) }
func (f *httpFile) Close() error               { return f.body.Close() }
func (f *httpFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (i httpInfo) Name() string                { return i.name }
func (i httpInfo) Size() int64                 { return i.size } // -1: the server did not say
func (i httpInfo) Mode() fs.FileMode           { return 0o444 }
func (i httpInfo) ModTime() time.Time          { return time.Time{} }
func (i httpInfo) IsDir() bool                 { return false }
func (i httpInfo) Sys() any                    { return nil }

type httpInfo struct {
	name string
	size int64
}

var _ fs.StatFS = (*httpFS)(nil)
