package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashr-dev/hashr/internal/httpclient"
	"github.com/hashr-dev/hashr/internal/objstore"
)

// s3API downloads s3://bucket/key through the S3 REST API, signing with
// the AWS environment's credentials; an answer's ETag, when it is an MD5,
// is checked against the bytes.
type s3API struct{ s3 *objstore.S3 }

func (a s3API) request(ctx context.Context, loc *url.URL) (*http.Request, error) {
	bucket, key, err := bucketKey(loc)
	if err != nil {
		return nil, err
	}
	return http.NewRequestWithContext(ctx, http.MethodGet, a.s3.ObjectURL(bucket, key).String(), nil)
}

func (a s3API) md5(resp *http.Response) string { return objstore.ETagMD5(resp) }

func (a s3API) sign(req *http.Request) error { return a.s3.Sign(req) }

// gcsAPI downloads gs://bucket/object through the Cloud Storage JSON API;
// x-goog-hash's MD5 is checked against the bytes.
type gcsAPI struct {
	gcs    *objstore.GCS
	client *http.Client
}

func (a gcsAPI) request(ctx context.Context, loc *url.URL) (*http.Request, error) {
	bucket, key, err := bucketKey(loc)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.gcs.ObjectURL(bucket, key).String(), nil)
	if err != nil {
		return nil, err
	}
	if err := a.gcs.Authorize(ctx, a.client, req); err != nil {
		return nil, err
	}
	return req, nil
}

func (a gcsAPI) md5(resp *http.Response) string { return objstore.HashMD5(resp) }

// signer is a remoteAPI that signs each request once its headers are set.
type signer interface {
	sign(req *http.Request) error
}

// bucketKey splits s3://bucket/key and gs://bucket/object.
func bucketKey(loc *url.URL) (string, string, error) {
	key := strings.TrimPrefix(loc.Path, "/")
	if loc.Host == "" || key == "" {
		return "", "", fmt.Errorf("%s names no object: want %s://BUCKET/KEY", loc.Redacted(), loc.Scheme)
	}
	return loc.Host, key, nil
}

// credentialNamer is a remoteAPI that says where its credentials came
// from, so that a refusal names them.
type credentialNamer interface {
	credentialSource() string
}

func (a s3API) credentialSource() string  { return a.s3.CredentialSource() }
func (a gcsAPI) credentialSource() string { return a.gcs.CredentialSource() }

// refusedCredentials names, for a bucket's 401 or 403, the credentials
// the request was made with (the first of the cloud's chain that gave
// some, or none: unsigned), the likeliest thing to fix; else "".
func (h *httpFetcher) refusedCredentials(resp *http.Response) string {
	namer, ok := h.remote.(credentialNamer)
	if !ok || (resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized) {
		return ""
	}
	return namer.credentialSource()
}

// transient says whether a failed download is worth trying again: a
// server error or throttling, a connection that failed or ended early, a
// silent server. Not: a 4xx answer (403, 404), bytes that are not the
// record's, an interruption, a Permanent error (a limit reached, a
// redirect loop).
func transient(err error) bool {
	var se *objstore.StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests || se.Code == http.StatusRequestTimeout
	}
	var scheme unsupportedScheme
	return !httpclient.IsPermanent(err) && !errors.Is(err, errMismatch) && !errors.Is(err, context.Canceled) && !errors.As(err, &scheme) &&
		!errors.Is(err, errRequest)
}
