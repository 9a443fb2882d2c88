package objstore

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Google credentials are found as Application Default Credentials find
// them, in their documented search order
// (https://docs.cloud.google.com/docs/authentication/application-default-credentials):
// the file GOOGLE_APPLICATION_CREDENTIALS names, then the file
// `gcloud auth application-default login` writes, then the attached
// service account that the metadata server of GCE, GKE (workload
// identity), Cloud Run and the like hands out. Workload identity
// federation files (type external_account) are not spoken here.

// googleTokenFetcher gets a new access token from one source; String
// names the source in messages.
type googleTokenFetcher interface {
	fetch(ctx context.Context, client *http.Client) (token string, lifetime time.Duration, err error)
	String() string
}

// tokenSource caches a fetcher's access token until a minute before it
// expires.
type tokenSource struct {
	fetcher googleTokenFetcher
	now     func() time.Time

	mu        sync.Mutex
	token     string
	expires   time.Time
	anonymous bool
}

const readOnlyScope = "https://www.googleapis.com/auth/devstorage.read_only"

// googleTokenURI is Google's OAuth token endpoint, for files that name
// none (gcloud's user credentials).
const googleTokenURI = "https://oauth2.googleapis.com/token"

// get returns a token, or ok false to send requests without one (no
// metadata server: not on Google Cloud).
func (ts *tokenSource) get(ctx context.Context, client *http.Client) (token string, ok bool, err error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.anonymous {
		return "", false, nil
	}
	if ts.token != "" && ts.expires.Sub(ts.now()) > time.Minute {
		return ts.token, true, nil
	}
	token, lifetime, err := ts.fetcher.fetch(ctx, client)
	if errors.Is(err, errAnonymous) {
		ts.anonymous = true
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("getting a Google access token from %s: %w", ts.fetcher, err)
	}
	ts.token, ts.expires = token, ts.now().Add(lifetime)
	return token, true, nil
}

// findGoogleCredentials walks the ADC search order; it reads files now
// and talks to no server until the first request.
func findGoogleCredentials(getenv func(string) string) (*tokenSource, error) {
	newSource := func(f googleTokenFetcher) *tokenSource { return &tokenSource{fetcher: f, now: time.Now} }
	if file := getenv("GOOGLE_APPLICATION_CREDENTIALS"); file != "" {
		f, err := readCredentialsFile(file, "GOOGLE_APPLICATION_CREDENTIALS")
		if err != nil {
			return nil, err
		}
		return newSource(f), nil
	}
	if file := gcloudADCFile(getenv); file != "" {
		f, err := readCredentialsFile(file, "gcloud's application-default credentials")
		if err == nil {
			return newSource(f), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w (hint: run `gcloud auth application-default login` again, or set GOOGLE_APPLICATION_CREDENTIALS)", err)
		}
	}
	host := firstOf(getenv("GCE_METADATA_HOST"), "169.254.169.254")
	return newSource(&gceMetadata{host: host, probe: getenv("GCE_METADATA_HOST") == ""}), nil
}

// gcloudADCFile is where gcloud keeps application-default credentials:
// in its configuration directory, CLOUDSDK_CONFIG or the platform's.
func gcloudADCFile(getenv func(string) string) string {
	dir := getenv("CLOUDSDK_CONFIG")
	if dir == "" && runtime.GOOS == "windows" {
		dir = filepath.Join(getenv("APPDATA"), "gcloud")
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config", "gcloud")
	}
	return filepath.Join(dir, "application_default_credentials.json")
}

// credentialsFile is the JSON of a service account key or of gcloud's
// user credentials.
type credentialsFile struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
}

// readCredentialsFile reads one, named in messages by what pointed to it.
func readCredentialsFile(file, origin string) (googleTokenFetcher, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", origin, err)
	}
	var c credentialsFile
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s %s: %w", origin, file, err)
	}
	name := origin + " " + file
	switch c.Type {
	case "service_account":
		key, err := parseRSAKey(c.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &serviceAccount{email: c.ClientEmail, key: key, tokenURI: firstOf(c.TokenURI, googleTokenURI), name: name}, nil
	case "authorized_user":
		if c.RefreshToken == "" {
			return nil, fmt.Errorf("%s: no refresh_token (hint: run `gcloud auth application-default login`)", name)
		}
		return &authorizedUser{file: c, tokenURI: firstOf(c.TokenURI, googleTokenURI), name: name}, nil
	}
	return nil, fmt.Errorf("%s: credentials of type %q are not supported (use a service account key or gcloud auth application-default login)", name, c.Type)
}

func parseRSAKey(pemKey string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemKey))
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the private key is not RSA")
	}
	return rk, nil
}

// serviceAccount trades a JWT signed with the account's key (RS256) for
// an access token at the key file's token_uri (RFC 7523).
type serviceAccount struct {
	email, tokenURI, name string
	key                   *rsa.PrivateKey
}

func (sa *serviceAccount) String() string { return sa.name }

func (sa *serviceAccount) fetch(ctx context.Context, client *http.Client) (string, time.Duration, error) {
	jwt, err := sa.assertion(time.Now())
	if err != nil {
		return "", 0, err
	}
	return exchangeToken(ctx, client, sa.tokenURI, url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jwt}})
}

// assertion is the signed JWT a service account trades for a token.
func (sa *serviceAccount) assertion(now time.Time) (string, error) {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{
		"iss": sa.email, "scope": readOnlyScope, "aud": sa.tokenURI,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	unsigned := header + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(unsigned))
	sig, err := rsa.SignPKCS1v15(rand.Reader, sa.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing the service account's token request: %w", err)
	}
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// authorizedUser trades gcloud's refresh token for an access token.
type authorizedUser struct {
	file           credentialsFile
	tokenURI, name string
}

func (u *authorizedUser) String() string { return u.name }

func (u *authorizedUser) fetch(ctx context.Context, client *http.Client) (string, time.Duration, error) {
	token, lifetime, err := exchangeToken(ctx, client, u.tokenURI, url.Values{
		"grant_type": {"refresh_token"}, "client_id": {u.file.ClientID},
		"client_secret": {u.file.ClientSecret}, "refresh_token": {u.file.RefreshToken}})
	if err != nil {
		return "", 0, fmt.Errorf("%w (hint: an expired or revoked login: run `gcloud auth application-default login`)", err)
	}
	return token, lifetime, nil
}

// tokenAnswer is the JSON of an OAuth token endpoint and of the metadata
// server's token.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

func (t tokenAnswer) result() (string, time.Duration, error) {
	if t.AccessToken == "" {
		return "", 0, errors.New("the answer holds no access_token")
	}
	return t.AccessToken, time.Duration(t.ExpiresIn) * time.Second, nil
}

// exchangeToken posts an OAuth token request's form.
func exchangeToken(ctx context.Context, client *http.Client, tokenURI string, form url.Values) (string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	var tok tokenAnswer
	if err := decodeAnswer(resp, func(r io.Reader) error { return json.NewDecoder(r).Decode(&tok) }); err != nil {
		return "", 0, err
	}
	return tok.result()
}

// gceMetadata is the attached service account's token from the metadata
// server (https://cloud.google.com/compute/docs/access/authenticate-workloads#applications),
// which answers only requests with the Metadata-Flavor: Google header.
type gceMetadata struct {
	host string
	// probe: no GCE_METADATA_HOST, so not knowing whether this runs on
	// Google Cloud, a server that does not answer means "not there".
	probe bool
}

func (m *gceMetadata) String() string { return "the metadata server at " + m.host }

func (m *gceMetadata) fetch(ctx context.Context, client *http.Client) (string, time.Duration, error) {
	u := "http://" + m.host + "/computeMetadata/v1/instance/service-accounts/default/token?scopes=" + url.QueryEscape(readOnlyScope)
	reqCtx := ctx
	if m.probe {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, imdsProbeTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, u, nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := client.Do(req)
	if err != nil {
		if m.probe && ctx.Err() == nil {
			return "", 0, errAnonymous
		}
		return "", 0, err
	}
	if m.probe && resp.Header.Get("Metadata-Flavor") != "Google" {
		// Another cloud's metadata service at the same address (EC2's).
		resp.Body.Close()
		return "", 0, errAnonymous
	}
	var tok tokenAnswer
	if err := decodeAnswer(resp, func(r io.Reader) error { return json.NewDecoder(r).Decode(&tok) }); err != nil {
		return "", 0, fmt.Errorf("%w (hint: attach a service account to the instance, or bind the pod's Kubernetes service account to one with workload identity)", err)
	}
	return tok.result()
}
