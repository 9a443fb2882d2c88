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
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A service account key is traded for a token with a JWT signed by the
// key, which the token endpoint checks; the token is then sent as Bearer.
func TestServiceAccountToken(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		r.ParseForm()
		parts := strings.Split(r.Form.Get("assertion"), ".")
		if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || len(parts) != 3 {
			http.Error(w, "bad grant", 400)
			return
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c map[string]any
		json.Unmarshal(claims, &c)
		if c["iss"] != "hashr@example.iam.gserviceaccount.com" || c["scope"] != readOnlyScope {
			http.Error(w, "bad claims", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"access_token":"tok-1","expires_in":3600,"token_type":"Bearer"}`))
	}))
	defer tokens.Close()
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	creds, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "hashr@example.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri":   tokens.URL,
	})
	file := filepath.Join(t.TempDir(), "key.json")
	os.WriteFile(file, creds, 0o600)
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", file)
	g, err := GCSFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, g.ObjectURL("b", "dir/obj name").String(), nil)
		if err := g.Authorize(t.Context(), http.DefaultClient, req); err != nil {
			t.Fatal(err)
		}
		if got := req.Header.Get("Authorization"); got != "Bearer tok-1" {
			t.Errorf("Authorization %q", got)
		}
		if got := req.URL.String(); got != "https://storage.googleapis.com/storage/v1/b/b/o/dir%2Fobj%20name?alt=media" {
			t.Errorf("URL %s", got)
		}
	}
	if calls != 1 {
		t.Errorf("token endpoint called %d times, want 1 (the token is cached)", calls)
	}
}
