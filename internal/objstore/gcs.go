package objstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// GCS is the Cloud Storage JSON API, on Google or on an emulator.
type GCS struct {
	Base *url.URL // https://storage.googleapis.com, or STORAGE_EMULATOR_HOST
	// token authorizes requests; nil sends them without (an emulator, a
	// public bucket).
	token *tokenSource
}

// GCSFromEnv reads the GCS configuration from the environment the Google
// client libraries read: STORAGE_EMULATOR_HOST (no credentials then), or
// Application Default Credentials (gcscreds.go).
func GCSFromEnv() (*GCS, error) {
	if host := os.Getenv("STORAGE_EMULATOR_HOST"); host != "" {
		if !strings.Contains(host, "://") {
			host = "http://" + host
		}
		u, err := url.Parse(host)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("STORAGE_EMULATOR_HOST %q is not a host:port or URL", host)
		}
		u.Path = ""
		return &GCS{Base: u}, nil
	}
	ts, err := findGoogleCredentials(os.Getenv)
	if err != nil {
		return nil, err
	}
	return &GCS{Base: defaultGCSBase(), token: ts}, nil
}

func defaultGCSBase() *url.URL { return &url.URL{Scheme: "https", Host: "storage.googleapis.com"} }

// CredentialSource names where the credentials come from, for messages.
func (g *GCS) CredentialSource() string {
	if g.token == nil {
		return "none (STORAGE_EMULATOR_HOST)"
	}
	g.token.mu.Lock()
	defer g.token.mu.Unlock()
	if g.token.anonymous {
		return "none found, so the requests went without a token: no GOOGLE_APPLICATION_CREDENTIALS, " +
			"gcloud application-default login or metadata server (hint: set GOOGLE_APPLICATION_CREDENTIALS " +
			"to a service account key, or run `gcloud auth application-default login`)"
	}
	return g.token.fetcher.String()
}

// ObjectURL is the URL that downloads an object's bytes.
func (g *GCS) ObjectURL(bucket, object string) *url.URL {
	u := *g.Base
	u.Path = "/storage/v1/b/" + bucket + "/o/" + object
	u.RawPath = "/storage/v1/b/" + url.PathEscape(bucket) + "/o/" + url.PathEscape(object)
	u.RawQuery = "alt=media"
	return &u
}

// Authorize adds the bearer token, when there are credentials.
func (g *GCS) Authorize(ctx context.Context, client *http.Client, req *http.Request) error {
	if g.token == nil {
		return nil
	}
	tok, ok, err := g.token.get(ctx, client)
	if err != nil || !ok {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// HashMD5 is the MD5 of the whole object an answer's x-goog-hash gives.
func HashMD5(resp *http.Response) string {
	for _, h := range resp.Header.Values("X-Goog-Hash") {
		for part := range strings.SplitSeq(h, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "md5="); ok {
				if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) == 16 {
					return hex.EncodeToString(b)
				}
			}
		}
	}
	return ""
}

// List lists the objects of bucket under prefix, in name order.
func (g *GCS) List(ctx context.Context, client *http.Client, bucket, prefix string, f func(Object) error) error {
	token := ""
	for {
		u := *g.Base
		u.Path = "/storage/v1/b/" + bucket + "/o"
		u.RawPath = "/storage/v1/b/" + url.PathEscape(bucket) + "/o"
		q := url.Values{"prefix": {prefix}, "fields": {"items(name,size,md5Hash,updated,etag),nextPageToken"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		if err := g.Authorize(ctx, client, req); err != nil {
			return fmt.Errorf("listing gs://%s/%s: %w", bucket, prefix, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("listing gs://%s/%s: %w", bucket, prefix, err)
		}
		var page struct {
			Items []struct {
				Name    string    `json:"name"`
				Size    string    `json:"size"`
				MD5Hash string    `json:"md5Hash"`
				Updated time.Time `json:"updated"`
				ETag    string    `json:"etag"`
			} `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		err = decodeAnswer(resp, func(r io.Reader) error { return json.NewDecoder(r).Decode(&page) })
		if err != nil {
			return fmt.Errorf("listing gs://%s/%s: %w%s", bucket, prefix, err, refusedWith(err, g.CredentialSource))
		}
		for _, it := range page.Items {
			size, err := strconv.ParseInt(it.Size, 10, 64)
			if err != nil {
				return fmt.Errorf("listing gs://%s/%s: object %q has size %q", bucket, prefix, it.Name, it.Size)
			}
			o := Object{Key: it.Name, Size: size, Modified: it.Updated, ETag: it.ETag}
			if b, err := base64.StdEncoding.DecodeString(it.MD5Hash); err == nil && len(b) == 16 {
				o.MD5 = hex.EncodeToString(b)
			}
			if err := f(o); err != nil {
				return err
			}
		}
		if page.NextPageToken == "" {
			return nil
		}
		token = page.NextPageToken
	}
}
