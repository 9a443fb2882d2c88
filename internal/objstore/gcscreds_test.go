package objstore

import (
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
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// isolateGoogle clears what ADC reads and points gcloud's configuration
// at an empty directory, which it returns.
func isolateGoogle(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("GCE_METADATA_HOST", "")
	t.Setenv("CLOUDSDK_CONFIG", dir)
	return dir
}

// authorizeOnce builds the client from the environment and authorizes
// one request, returning its Authorization header.
func authorizeOnce(t *testing.T, g *GCS) (string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.ObjectURL("b", "o").String(), nil)
	err := g.Authorize(t.Context(), http.DefaultClient, req)
	return req.Header.Get("Authorization"), err
}

// fakeTokenEndpoint is an OAuth token endpoint: check inspects the form
// and says what is wrong with it, if anything.
type fakeTokenEndpoint struct {
	mu     sync.Mutex
	calls  int
	errors []string
	check  func(r *http.Request) error
}

func (f *fakeTokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.ParseForm()
	if err := f.check(r); err != nil {
		f.errors = append(f.errors, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":%q}`, err.Error())
		return
	}
	f.calls++
	fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":3599,"token_type":"Bearer"}`, f.calls)
}

// checkJWT verifies a service account's assertion as Google's token
// endpoint does: RS256 over header.claims with the key's public half,
// the issuer, the scope, the audience (the token_uri) and an hour's life.
func checkJWT(r *http.Request, pub *rsa.PublicKey, aud string) error {
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return fmt.Errorf("grant_type %q", r.PostForm.Get("grant_type"))
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		return errors.New("the assertion is not a JWS")
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]string
	if json.Unmarshal(header, &h) != nil || h["alg"] != "RS256" {
		return fmt.Errorf("header %s", header)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Iss, Scope, Aud string
		Iat, Exp        int64
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return err
	}
	now := time.Now().Unix()
	if c.Iss != "hashr@example.iam.gserviceaccount.com" || c.Scope != readOnlyScope || c.Aud != aud ||
		c.Exp-c.Iat != 3600 || c.Iat > now+5 || c.Iat < now-60 {
		return fmt.Errorf("claims %s", payload)
	}
	return nil
}

func serviceAccountFile(t *testing.T, dir string, key *rsa.PrivateKey, tokenURI string) string {
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	creds, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "hashr@example.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri":   tokenURI,
	})
	file := filepath.Join(dir, "key.json")
	writeFile(t, file, string(creds))
	return file
}

// The key file's own token_uri gets the assertion; the token is fetched
// again a minute before its expiry.
func TestServiceAccountJWTAndRefresh(t *testing.T) {
	dir := isolateGoogle(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := &fakeTokenEndpoint{}
	srv := httptest.NewServer(endpoint)
	defer srv.Close()
	tokenURI := srv.URL + "/custom/token"
	endpoint.check = func(r *http.Request) error {
		if r.URL.Path != "/custom/token" {
			return fmt.Errorf("path %s, not the file's token_uri", r.URL.Path)
		}
		return checkJWT(r, &key.PublicKey, tokenURI)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", serviceAccountFile(t, dir, key, tokenURI))
	// gcloud's file is there too: GOOGLE_APPLICATION_CREDENTIALS comes first
	writeFile(t, filepath.Join(dir, "application_default_credentials.json"), `{"type":"authorized_user","refresh_token":"r"}`)
	g, err := GCSFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	clock := start
	g.token.now = func() time.Time { return clock }
	var got []string
	for _, at := range []time.Duration{0, 30 * time.Minute, 59 * time.Minute} {
		clock = start.Add(at)
		auth, err := authorizeOnce(t, g)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, auth)
	}
	if strings.Join(got, ",") != "Bearer tok-1,Bearer tok-1,Bearer tok-2" || len(endpoint.errors) > 0 {
		t.Errorf("got %v, endpoint refused: %v", got, endpoint.errors)
	}
}

// gcloud auth application-default login's file: its refresh token is
// traded for an access token; a refused one says to log in again.
func TestGcloudApplicationDefaultCredentials(t *testing.T) {
	dir := isolateGoogle(t)
	endpoint := &fakeTokenEndpoint{check: func(r *http.Request) error {
		want := map[string]string{"grant_type": "refresh_token", "client_id": "cid.apps.googleusercontent.com",
			"client_secret": "csecret", "refresh_token": "1//refresh"}
		for k, v := range want {
			if r.PostForm.Get(k) != v {
				return fmt.Errorf("%s is %q, want %q", k, r.PostForm.Get(k), v)
			}
		}
		return nil
	}}
	srv := httptest.NewServer(endpoint)
	defer srv.Close()
	adc := filepath.Join(dir, "application_default_credentials.json")
	writeFile(t, adc, `{"type":"authorized_user","client_id":"cid.apps.googleusercontent.com","client_secret":"csecret","refresh_token":"1//refresh","token_uri":"`+srv.URL+`"}`)
	g, err := GCSFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if auth, err := authorizeOnce(t, g); err != nil || auth != "Bearer tok-1" {
		t.Fatalf("got %q, %v (endpoint refused: %v)", auth, err, endpoint.errors)
	}
	if !strings.Contains(g.CredentialSource(), "gcloud's application-default credentials") {
		t.Errorf("source %q", g.CredentialSource())
	}
	writeFile(t, adc, `{"type":"authorized_user","client_id":"cid.apps.googleusercontent.com","client_secret":"csecret","refresh_token":"revoked","token_uri":"`+srv.URL+`"}`)
	g, _ = GCSFromEnv()
	_, err = authorizeOnce(t, g)
	for _, want := range []string{"gcloud's application-default credentials " + adc, "invalid_grant", "gcloud auth application-default login"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// On GCE or GKE: the metadata server's token for the attached service
// account, asked with the Metadata-Flavor header it requires.
func TestMetadataServerToken(t *testing.T) {
	isolateGoogle(t)
	var mu sync.Mutex
	var refused []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Metadata-Flavor", "Google")
		if r.Header.Get("Metadata-Flavor") != "Google" {
			refused = append(refused, "no Metadata-Flavor: Google")
			http.Error(w, "Missing Metadata-Flavor:Google header", http.StatusForbidden)
			return
		}
		if r.URL.Path != "/computeMetadata/v1/instance/service-accounts/default/token" || r.URL.Query().Get("scopes") != readOnlyScope {
			refused = append(refused, r.URL.String())
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"access_token":"ya29.metadata","expires_in":3599,"token_type":"Bearer"}`))
	}))
	defer srv.Close()
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(srv.URL, "http://"))
	g, err := GCSFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if auth, err := authorizeOnce(t, g); err != nil || auth != "Bearer ya29.metadata" || len(refused) > 0 {
		t.Errorf("got %q, %v; the fake refused %v", auth, err, refused)
	}
}

// Not on Google Cloud: nothing answers at the metadata address, or what
// answers is not Google's (EC2's IMDS): requests go without a token.
func TestMetadataServerAbsentMeansAnonymous(t *testing.T) {
	notGoogle := httptest.NewServer(http.NotFoundHandler())
	defer notGoogle.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, host := range []string{notGoogle.URL, closed.URL} {
		ts := &tokenSource{fetcher: &gceMetadata{host: strings.TrimPrefix(host, "http://"), probe: true}, now: time.Now}
		g := &GCS{Base: defaultGCSBase(), token: ts}
		if auth, err := authorizeOnce(t, g); err != nil || auth != "" {
			t.Errorf("%s: got %q, %v; want no token and no error", host, auth, err)
		}
	}
}

func TestUnsupportedCredentialsFileSaysSo(t *testing.T) {
	dir := isolateGoogle(t)
	file := filepath.Join(dir, "wif.json")
	writeFile(t, file, `{"type":"external_account"}`)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", file)
	_, err := GCSFromEnv()
	if err == nil || !strings.Contains(err.Error(), `"external_account" are not supported`) || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS "+file) {
		t.Errorf("got %v", err)
	}
	os.Remove(file)
	if _, err := GCSFromEnv(); err == nil || !strings.Contains(err.Error(), "reading GOOGLE_APPLICATION_CREDENTIALS") {
		t.Errorf("a missing file: %v", err)
	}
}
