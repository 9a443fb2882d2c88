// Package httpclient holds the HTTP client rules every stage that talks
// to servers uses (hashr-fetch downloading, hashr-scan listing): which
// redirects are followed, for Go's http.Client and for clients that are
// not ours (go-containerregistry's), and which failures are permanent,
// so that no retry is spent on them. Routing the client's log lines
// stays in internal/cli (Program.RouteClientLog).
package httpclient

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// MaxRedirects is as many redirects as Go's client follows by default.
const MaxRedirects = 10

// New is an HTTP client over rt that follows redirects under
// CheckRedirect's rules.
func New(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: CheckRedirect}
}

// CheckRedirect refuses a redirect to another scheme (file://, ftp://: Go
// would fail it as "unsupported protocol scheme", and a retry would try
// it again), back to a URL already asked for, or past MaxRedirects. Each
// refusal is Permanent.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return Permanent(fmt.Errorf("the server redirected to %s: only http:// and https:// redirects are followed", req.URL.Redacted()))
	}
	for _, v := range via {
		if v.URL.String() == req.URL.String() {
			return Permanent(fmt.Errorf("redirect loop: %s redirected back to %s", via[len(via)-1].URL.Redacted(), req.URL.Redacted()))
		}
	}
	if len(via) >= MaxRedirects {
		return Permanent(fmt.Errorf("stopped after %d redirects", MaxRedirects))
	}
	return nil
}

// RedirectGuard applies CheckRedirect to requests made by an http.Client
// that is not ours: go-containerregistry's, which reads a registry's tag
// lists and manifests, has a CheckRedirect of its own that stops neither
// a loop (it follows one forever: a CheckRedirect replaces Go's limit of
// 10) nor a redirect to file://. The client sets Request.Response on a
// request it makes to follow a redirect, so the chain of requests is
// known here.
type RedirectGuard struct{ Next http.RoundTripper }

func (g RedirectGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if via := redirectChain(req); len(via) > 0 {
		if err := CheckRedirect(req, via); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	return g.Next.RoundTrip(req)
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

// permanentError is a failure no retry can change: a limit reached, a
// redirect loop, a redirect to a scheme that is not HTTP.
type permanentError struct{ err error }

// Permanent marks err as a failure no retry can change.
func Permanent(err error) error { return permanentError{err} }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// IsPermanent says whether err, or an error it wraps, was marked
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
