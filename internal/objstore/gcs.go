package objstore

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
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
// the service account or user credentials in the file
// GOOGLE_APPLICATION_CREDENTIALS names.
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
	g := &GCS{Base: &url.URL{Scheme: "https", Host: "storage.googleapis.com"}}
	if file := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); file != "" {
		ts, err := newTokenSource(file)
		if err != nil {
			return nil, err
		}
		g.token = ts
	}
	return g, nil
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
	tok, err := g.token.get(ctx, client)
	if err != nil {
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
			return fmt.Errorf("listing gs://%s/%s: %w", bucket, prefix, err)
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

// tokenSource gets and caches OAuth access tokens for a service account
// (a signed JWT exchanged for a token) or a user (a refresh token).
type tokenSource struct {
	creds struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKey   string `json:"private_key"`
		TokenURI     string `json:"token_uri"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		RefreshToken string `json:"refresh_token"`
	}
	key *rsa.PrivateKey

	mu      sync.Mutex
	token   string
	expires time.Time
}

const readOnlyScope = "https://www.googleapis.com/auth/devstorage.read_only"

func newTokenSource(file string) (*tokenSource, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading GOOGLE_APPLICATION_CREDENTIALS: %w", err)
	}
	ts := &tokenSource{}
	if err := json.Unmarshal(b, &ts.creds); err != nil {
		return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS %s: %w", file, err)
	}
	switch ts.creds.Type {
	case "service_account":
		block, _ := pem.Decode([]byte(ts.creds.PrivateKey))
		if block == nil {
			return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS %s: no PEM private key", file)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS %s: private key: %w", file, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS %s: the private key is not RSA", file)
		}
		ts.key = rk
		if ts.creds.TokenURI == "" {
			ts.creds.TokenURI = "https://oauth2.googleapis.com/token"
		}
	case "authorized_user":
		ts.creds.TokenURI = "https://oauth2.googleapis.com/token"
	default:
		return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS %s: credentials of type %q are not supported (use a service account key or gcloud auth application-default login)", file, ts.creds.Type)
	}
	return ts, nil
}

func (ts *tokenSource) get(ctx context.Context, client *http.Client) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && time.Until(ts.expires) > time.Minute {
		return ts.token, nil
	}
	form := url.Values{}
	if ts.key != nil {
		jwt, err := ts.assertion()
		if err != nil {
			return "", err
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", jwt)
	} else {
		form.Set("grant_type", "refresh_token")
		form.Set("client_id", ts.creds.ClientID)
		form.Set("client_secret", ts.creds.ClientSecret)
		form.Set("refresh_token", ts.creds.RefreshToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.creds.TokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("getting a Google access token: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := decodeAnswer(resp, func(r io.Reader) error { return json.NewDecoder(r).Decode(&tok) }); err != nil {
		return "", fmt.Errorf("getting a Google access token: %w", err)
	}
	if tok.AccessToken == "" {
		return "", errors.New("getting a Google access token: the answer holds none")
	}
	ts.token, ts.expires = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second)
	return ts.token, nil
}

// assertion is the signed JWT a service account trades for a token.
func (ts *tokenSource) assertion() (string, error) {
	now := time.Now().Unix()
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{
		"iss": ts.creds.ClientEmail, "scope": readOnlyScope, "aud": ts.creds.TokenURI,
		"iat": now, "exp": now + 3600,
	})
	unsigned := header + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(unsigned))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing the service account's token request: %w", err)
	}
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
