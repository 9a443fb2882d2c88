// Package objstore speaks to the object stores hashr reads sources from,
// Amazon S3 (and what speaks its API: MinIO, Ceph, R2) and Google Cloud
// Storage, over plain HTTP: it builds their URLs, finds credentials where
// each cloud's SDKs find them (awscreds.go, gcscreds.go), signs requests,
// and lists objects. Doing this in a few hundred lines keeps the cloud
// SDKs out of hashr's build: measured with go list -deps on Go 1.26, the
// AWS SDK's credential chain (github.com/aws/aws-sdk-go-v2/config
// v1.33.19) is 96 packages from 14 modules, and golang.org/x/oauth2/google
// (v0.38.0) 11 packages, among them cloud.google.com/go/compute/metadata,
// which test/depcheck refuses in every command; this package links none
// but the standard library.
package objstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// S3 is an S3 endpoint and the credentials to sign for it, found where
// the AWS CLI and SDKs find them (awscreds.go).
type S3 struct {
	Endpoint *url.URL // AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; nil for AWS itself
	// Region is AWS_REGION, AWS_DEFAULT_REGION, or the profile's region;
	// us-east-1 without any.
	Region string
	// creds signs requests; none at all (not even an instance role) sends
	// them unsigned, as a public bucket wants.
	creds *awsCredentialCache
	now   func() time.Time
}

// credentialClient is the HTTP client of the credential exchanges (STS,
// instance metadata, Google's token endpoints): those answer in well
// under a second, so a stuck one is cut off rather than waited on.
var credentialClient = &http.Client{Timeout: 30 * time.Second}

// S3FromEnv reads the S3 configuration from the environment and the
// shared AWS files; the network is first used by the first Sign.
func S3FromEnv() (*S3, error) {
	env, err := readAWSEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") != "" && os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
		return nil, fmt.Errorf("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
	}
	s := &S3{Region: env.region, creds: newAWSCredentialCache(resolveAWSChain(env, credentialClient)), now: time.Now}
	if ep := firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"); ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("AWS_ENDPOINT_URL %q is not an http(s) URL", ep)
		}
		s.Endpoint = u
	}
	return s, nil
}

// CredentialSource names where the credentials come from, for messages:
// the chain's step that gave them, or none, with what to set.
func (s *S3) CredentialSource() string {
	if s.creds == nil || s.creds.isAnonymous() {
		return "none found, so the requests were unsigned: " + awsNoneHint
	}
	return s.creds.source.String()
}

// awsNoneHint says what the chain looked at and how to give it keys.
const awsNoneHint = "no AWS_ACCESS_KEY_ID, AWS_WEB_IDENTITY_TOKEN_FILE, profile keys or EC2 instance role " +
	"(hint: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// ObjectURL is the HTTP URL of an object: path-style on a custom endpoint
// (what MinIO and fakes serve) and for bucket names with dots, virtual-
// hosted on AWS.
func (s *S3) ObjectURL(bucket, key string) *url.URL {
	return s.url(bucket, "/"+key)
}

func (s *S3) url(bucket, p string) *url.URL {
	if s.Endpoint != nil {
		u := *s.Endpoint
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + bucket + p
		u.RawPath = ""
		return &u
	}
	if strings.Contains(bucket, ".") {
		return &url.URL{Scheme: "https", Host: "s3." + s.Region + ".amazonaws.com", Path: "/" + bucket + p}
	}
	return &url.URL{Scheme: "https", Host: bucket + ".s3." + s.Region + ".amazonaws.com", Path: p}
}

// emptySHA256 is the SHA-256 of an empty body: hashr's requests are
// GETs, and signing their (empty) payload's hash is what AWS's own
// examples do.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Sign signs req with AWS Signature Version 4, when there are credentials,
// getting them (again, when they near expiry) under req's context.
// It signs Host, Range (when set: call it last), X-Amz-Content-Sha256,
// X-Amz-Date and X-Amz-Security-Token.
func (s *S3) Sign(req *http.Request) error {
	if s.creds == nil {
		return nil
	}
	creds, ok, err := s.creds.get(req.Context())
	if err != nil || !ok {
		return err
	}
	signV4(req, creds, s.Region, s.now().UTC())
	return nil
}

// signV4 adds the headers and the Authorization of a SigV4 signature.
func signV4(req *http.Request, creds awsCredentials, region string, now time.Time) {
	amzDate := now.Format("20060102T150405Z")
	day := now.Format("20060102")
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	if creds.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", creds.SessionToken)
	}
	signed := []string{"host"}
	if req.Header.Get("Range") != "" {
		signed = append(signed, "range")
	}
	signed = append(signed, "x-amz-content-sha256", "x-amz-date")
	if creds.SessionToken != "" {
		signed = append(signed, "x-amz-security-token")
	}
	var canon strings.Builder
	canon.WriteString(req.Method + "\n")
	canon.WriteString(awsEscape(req.URL.Path, false) + "\n")
	canon.WriteString(canonicalQuery(req.URL.Query()) + "\n")
	for _, h := range signed {
		v := req.Header.Get(h)
		if h == "host" {
			v = req.URL.Host
		}
		canon.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	canon.WriteString("\n" + strings.Join(signed, ";") + "\n" + emptySHA256)
	scope := day + "/" + region + "/s3/aws4_request"
	sum := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=%s,Signature=%s",
		creds.AccessKeyID, scope, strings.Join(signed, ";"), sig))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// awsEscape percent-encodes s as SigV4 wants: every byte but the
// unreserved ones, and '/' too unless it is a path.
func awsEscape(s string, slash bool) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !slash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		vals := slices.Clone(q[k])
		slices.Sort(vals)
		for _, v := range vals {
			parts = append(parts, awsEscape(k, true)+"="+awsEscape(v, true))
		}
	}
	return strings.Join(parts, "&")
}

// EncodeQuery writes q the way Sign reads it back, so the signed query is
// the one sent.
func EncodeQuery(q url.Values) string { return canonicalQuery(q) }

// Object is one object a listing found.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
	// ETag is S3's ETag without its quotes: the MD5 of the bytes for an
	// object uploaded whole, "<md5 of part md5s>-<parts>" for a multipart
	// one. GCS gives MD5 directly (hex here) and its own ETag.
	ETag string
	MD5  string // lowercase hex, when the listing gives the bytes' MD5
}

// List lists the objects of bucket under prefix, in key order, calling f
// for each; it stops at f's first error.
func (s *S3) List(ctx context.Context, client *http.Client, bucket, prefix string, f func(Object) error) error {
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
		if token != "" {
			q.Set("continuation-token", token)
		}
		u := s.url(bucket, "/")
		u.RawQuery = EncodeQuery(q)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		if err := s.Sign(req); err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("listing s3://%s/%s: %w", bucket, prefix, err)
		}
		var page struct {
			Contents []struct {
				Key          string
				Size         int64
				LastModified time.Time
				ETag         string
			}
			IsTruncated           bool
			NextContinuationToken string
		}
		err = decodeAnswer(resp, func(r io.Reader) error { return xml.NewDecoder(r).Decode(&page) })
		if err != nil {
			return fmt.Errorf("listing s3://%s/%s: %w%s", bucket, prefix, err, refusedWith(err, s.CredentialSource))
		}
		for _, c := range page.Contents {
			o := Object{Key: c.Key, Size: c.Size, Modified: c.LastModified, ETag: strings.Trim(c.ETag, `"`)}
			if isMD5(o.ETag) {
				o.MD5 = strings.ToLower(o.ETag)
			}
			if err := f(o); err != nil {
				return err
			}
		}
		if !page.IsTruncated || page.NextContinuationToken == "" {
			return nil
		}
		token = page.NextContinuationToken
	}
}

// ETagMD5 is the MD5 an S3 answer's ETag gives, when it is one (an object
// uploaded in one piece, without SSE-KMS).
func ETagMD5(resp *http.Response) string {
	etag := strings.Trim(resp.Header.Get("ETag"), `"`)
	if isMD5(etag) {
		return strings.ToLower(etag)
	}
	return ""
}

func isMD5(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// StatusError is an answer other than success.
type StatusError struct {
	Code   int
	Status string
	Detail string // the store's error code or message, when it sent one
	// Credentials names those a bucket refused (401, 403), else "".
	Credentials string
}

func (e *StatusError) Error() string {
	msg := "server answered " + e.Status
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Credentials != "" {
		msg += " (credentials: " + e.Credentials + ")"
	}
	return msg
}

// refusedWith is, for a refusal (401, 403), " (credentials: SOURCE)":
// the likeliest thing to fix is where the credentials came from.
func refusedWith(err error, source func() string) string {
	var status *StatusError
	if errors.As(err, &status) && (status.Code == http.StatusForbidden || status.Code == http.StatusUnauthorized) {
		return " (credentials: " + source() + ")"
	}
	return ""
}

// decodeAnswer checks an answer's status and decodes its body.
func decodeAnswer(resp *http.Response, decode func(io.Reader) error) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Code: resp.StatusCode, Status: resp.Status, Detail: ErrorDetail(resp)}
	}
	if err := decode(io.LimitReader(resp.Body, 64<<20)); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	return nil
}

// ErrorDetail pulls the error code out of an S3 or STS XML, or a GCS JSON, error
// body, reading at most a few KiB of it.
func ErrorDetail(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	// S3 answers <Error><Code>, STS <ErrorResponse><Error><Code>.
	var s3 struct {
		Code    string
		Message string
		Error   struct{ Code, Message string }
	}
	if xml.Unmarshal(b, &s3) == nil && s3.Code == "" {
		s3.Code, s3.Message = s3.Error.Code, s3.Error.Message
	}
	if s3.Code != "" {
		return strings.TrimSpace(s3.Code + " " + s3.Message)
	}
	var gcs struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if jsonUnmarshal(b, &gcs) == nil && gcs.Error.Message != "" {
		return gcs.Error.Message
	}
	// An OAuth token endpoint's: {"error":"invalid_grant",...} (RFC 6749 5.2).
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if jsonUnmarshal(b, &oauth) == nil && oauth.Error != "" {
		return strings.TrimSpace(oauth.Error + " " + oauth.Description)
	}
	return ""
}
