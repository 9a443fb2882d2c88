package fetch

import (
	"fmt"
	"net/http"
	"slices"
)

// maxRedirects is as many redirects as Go's client follows by default.
const maxRedirects = 10

// newClient is the HTTP client of every download: it follows redirects to
// http and https only, and stops at a loop, both for good (no retry).
func newClient(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: checkRedirect}
}

// checkRedirect refuses a redirect to another scheme (file://, ftp://: Go
// would fail it as "unsupported protocol scheme", and the download was
// tried again), back to a URL already asked for, or past maxRedirects.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return permanent(fmt.Errorf("the server redirected to %s: only http:// and https:// redirects are followed", req.URL.Redacted()))
	}
	for _, v := range via {
		if v.URL.String() == req.URL.String() {
			return permanent(fmt.Errorf("redirect loop: %s redirected back to %s", via[len(via)-1].URL.Redacted(), req.URL.Redacted()))
		}
	}
	if len(via) >= maxRedirects {
		return permanent(fmt.Errorf("stopped after %d redirects", maxRedirects))
	}
	return nil
}

// redirectGuard applies checkRedirect to requests made by an http.Client
// that is not ours: go-containerregistry's, which reads an image's
// manifests, has a CheckRedirect of its own that stops neither a loop (it
// follows one forever: a CheckRedirect replaces Go's limit of 10) nor a
// redirect to file://. The client sets Request.Response on a request it
// makes to follow a redirect, so the chain of requests is known here.
type redirectGuard struct{ next http.RoundTripper }

func (g redirectGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if via := redirectChain(req); len(via) > 0 {
		if err := checkRedirect(req, via); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	return g.next.RoundTrip(req)
}

// redirectChain is the requests whose redirects led to req, oldest first,
// as http.Client passes them to CheckRedirect.
func redirectChain(req *http.Request) []*http.Request {
	var via []*http.Request
	for r := req.Response; r != nil && r.Request != nil; r = r.Request.Response {
		via = append(via, r.Request)
	}
	slices.Reverse(via)
	return via
}
