package objstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeS3 is an S3 endpoint that checks each request's SigV4 signature the
// way S3 does: it rebuilds the canonical request from what it received,
// signs it with the secret of the access key the request names, and
// compares; a session token must be sent and signed.
type fakeS3 struct {
	mu       sync.Mutex
	keys     map[string]awsCredentials // by access key ID
	signedBy []string                  // the access key of each good request
	unsigned int
}

func newFakeS3(t *testing.T) (*fakeS3, *httptest.Server) {
	f := &fakeS3{keys: map[string]awsCredentials{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Header.Get("Authorization") == "" {
			f.unsigned++
			w.Write([]byte("public"))
			return
		}
		id, err := verifySigV4(r, f.keys)
		if err != nil {
			http.Error(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>"+err.Error()+"</Message></Error>", http.StatusForbidden)
			return
		}
		f.signedBy = append(f.signedBy, id)
		w.Write([]byte("private"))
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeS3) allow(c awsCredentials) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[c.AccessKeyID] = c
}

func (f *fakeS3) seen() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.signedBy), f.unsigned
}

// verifySigV4 checks r's signature, written apart from Sign from the
// SigV4 specification, and returns the access key it was made with.
func verifySigV4(r *http.Request, keys map[string]awsCredentials) (string, error) {
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", errors.New("not AWS4-HMAC-SHA256")
	}
	fields := map[string]string{}
	for f := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[3] != "s3" || scope[4] != "aws4_request" {
		return "", fmt.Errorf("credential scope %q", fields["Credential"])
	}
	creds, ok := keys[scope[0]]
	if !ok {
		return "", fmt.Errorf("unknown access key %s", scope[0])
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if creds.SessionToken != "" && (r.Header.Get("X-Amz-Security-Token") != creds.SessionToken || !slices.Contains(signed, "x-amz-security-token")) {
		return "", errors.New("the session token is not sent, or not signed")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, scope[1]) {
		return "", fmt.Errorf("X-Amz-Date %s is not of the scope's day %s", amzDate, scope[1])
	}
	canon := r.Method + "\n" + uriEncode(r.URL.Path, false) + "\n" + sortedQuery(r) + "\n"
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canon += h + ":" + strings.TrimSpace(v) + "\n"
	}
	canon += "\n" + fields["SignedHeaders"] + "\n" + r.Header.Get("X-Amz-Content-Sha256")
	digest := sha256.Sum256([]byte(canon))
	toSign := strings.Join([]string{"AWS4-HMAC-SHA256", amzDate, strings.Join(scope[1:], "/"), hex.EncodeToString(digest[:])}, "\n")
	key := []byte("AWS4" + creds.SecretAccessKey)
	for _, part := range append(scope[1:], toSign) {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(part))
		key = m.Sum(nil)
	}
	if hex.EncodeToString(key) != fields["Signature"] {
		return "", errors.New("the signature does not match")
	}
	return scope[0], nil
}

func uriEncode(s string, slash bool) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 || (c == '/' && !slash) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func sortedQuery(r *http.Request) string {
	var pairs []string
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// isolateAWS empties every variable the chain reads and points the
// shared files at a fresh directory, so the machine's own ~/.aws and
// instance role play no part; it returns that directory.
func isolateAWS(t *testing.T) string {
	dir := t.TempDir()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_EC2_METADATA_SERVICE_ENDPOINT"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	return dir
}

// getObject signs and sends a GET of s3://bucket/key to the fake.
func getObject(t *testing.T, s *S3) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.ObjectURL("bucket", "dir/a b+c.txt").String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=0-9")
	if err := s.Sign(req); err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", &StatusError{Code: resp.StatusCode, Status: resp.Status, Detail: ErrorDetail(resp)}
	}
	return resp.Header.Get("Content-Length"), nil
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAWSEnvironmentKeysSignWithSessionToken(t *testing.T) {
	isolateAWS(t)
	fake, srv := newFakeS3(t)
	keys := awsCredentials{AccessKeyID: "ASIAENV", SecretAccessKey: "env-secret", SessionToken: "env-session"}
	fake.allow(keys)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", keys.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", keys.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", keys.SessionToken)
	s, err := S3FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := getObject(t, s); err != nil {
		t.Fatal(err)
	}
	// The fake refuses a request whose token is not signed: drop the
	// token from the keys it knows and the same request must fail.
	fake.allow(awsCredentials{AccessKeyID: "ASIAENV", SecretAccessKey: "env-secret", SessionToken: "other"})
	if _, err := getObject(t, s); err == nil {
		t.Error("the fake accepted a request signed with another session token")
	}
	if by, _ := fake.seen(); !slices.Equal(by, []string{"ASIAENV"}) {
		t.Errorf("signed by %v", by)
	}
}

// The config file names profiles [profile NAME], the credentials file
// [NAME]; a key in the credentials file wins; the region comes from the
// profile and ends up in the signature's scope.
func TestAWSSharedFilesProfile(t *testing.T) {
	dir := isolateAWS(t)
	fake, srv := newFakeS3(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	writeFile(t, filepath.Join(dir, "config"), `# comment
[default]
region = eu-west-1
[ci]
region = wrong-region-1
[profile ci]
region = ap-south-1
aws_access_key_id = AKIDFROMCONFIG
s3 =
    max_concurrent_requests = 20
`)
	writeFile(t, filepath.Join(dir, "credentials"), `[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = default-secret
; comment
[ci]
aws_access_key_id=AKIDCI
aws_secret_access_key=ci-secret
[profile ci]
aws_access_key_id = AKIDWRONGSECTION
`)
	fake.allow(awsCredentials{AccessKeyID: "AKIDDEFAULT", SecretAccessKey: "default-secret"})
	fake.allow(awsCredentials{AccessKeyID: "AKIDCI", SecretAccessKey: "ci-secret"})
	for _, tc := range []struct{ profile, region, key string }{
		{"", "eu-west-1", "AKIDDEFAULT"},
		{"ci", "ap-south-1", "AKIDCI"},
	} {
		t.Setenv("AWS_PROFILE", tc.profile)
		s, err := S3FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		if s.Region != tc.region {
			t.Errorf("profile %q: region %s, want %s", tc.profile, s.Region, tc.region)
		}
		if _, err := getObject(t, s); err != nil {
			t.Fatalf("profile %q: %v", tc.profile, err)
		}
		if by, _ := fake.seen(); by[len(by)-1] != tc.key {
			t.Errorf("profile %q: signed by %s, want %s", tc.profile, by[len(by)-1], tc.key)
		}
		if got := s.CredentialSource(); !strings.Contains(got, "profile") {
			t.Errorf("profile %q: source %q", tc.profile, got)
		}
	}
	t.Setenv("AWS_PROFILE", "nosuch")
	if _, err := S3FromEnv(); err == nil || !strings.Contains(err.Error(), `AWS_PROFILE "nosuch"`) || !strings.Contains(err.Error(), "aws configure --profile nosuch") {
		t.Errorf("a missing profile: %v", err)
	}
}

// A profile the chain cannot use says which setting and what to do, at
// the first signed request rather than when the configuration is read.
func TestAWSProfileUnsupportedSaysWhatToDo(t *testing.T) {
	dir := isolateAWS(t)
	writeFile(t, filepath.Join(dir, "config"), "[profile sso]\nsso_session = corp\nregion = us-west-2\n")
	t.Setenv("AWS_PROFILE", "sso")
	s, err := S3FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.ObjectURL("b", "k").String(), nil)
	err = s.Sign(req)
	if err == nil || !strings.Contains(err.Error(), `the shared config profile "sso"`) || !strings.Contains(err.Error(), "aws configure export-credentials --profile sso") {
		t.Errorf("got %v", err)
	}
}

// fakeSTS answers AssumeRoleWithWebIdentity after checking its form; each
// call hands out new keys that expire in an hour.
type fakeSTS struct {
	mu    sync.Mutex
	token string // the web identity token it expects
	calls int
	s3    *fakeS3
	now   time.Time
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.ParseForm()
	want := map[string]string{"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
		"RoleArn": "arn:aws:iam::123456789012:role/hashr", "RoleSessionName": "hashr-test", "WebIdentityToken": f.token}
	for k, v := range want {
		if got := r.PostForm.Get(k); got != v {
			http.Error(w, fmt.Sprintf("<ErrorResponse><Error><Code>InvalidParameter</Code><Message>%s is %q, want %q</Message></Error></ErrorResponse>", k, got, v), http.StatusBadRequest)
			return
		}
	}
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		http.Error(w, "want an unsigned form POST", http.StatusBadRequest)
		return
	}
	f.calls++
	c := awsCredentials{AccessKeyID: fmt.Sprintf("ASIASTS%d", f.calls), SecretAccessKey: fmt.Sprintf("sts-secret-%d", f.calls),
		SessionToken: fmt.Sprintf("sts-session-%d", f.calls), Expires: f.now.Add(time.Hour)}
	f.s3.allow(c)
	fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:hashr:loader</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>%s</SessionToken>
      <SecretAccessKey>%s</SecretAccessKey>
      <Expiration>%s</Expiration>
      <AccessKeyId>%s</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>`, c.SessionToken, c.SecretAccessKey, c.Expires.UTC().Format(time.RFC3339), c.AccessKeyID)
}

// As on EKS: the token file and role in the environment, traded with STS
// (at AWS_ENDPOINT_URL_STS) for keys, traded again, with the token file's
// new content, when the keys near expiry.
func TestAWSWebIdentityTokenRefreshesBeforeExpiry(t *testing.T) {
	dir := isolateAWS(t)
	fake, srv := newFakeS3(t)
	start := time.Now()
	sts := &fakeSTS{token: "eyJ.first.token", s3: fake, now: start}
	stsSrv := httptest.NewServer(sts)
	defer stsSrv.Close()
	tokenFile := filepath.Join(dir, "token")
	writeFile(t, tokenFile, sts.token+"\n")
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	t.Setenv("AWS_ENDPOINT_URL_STS", stsSrv.URL)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/hashr")
	t.Setenv("AWS_ROLE_SESSION_NAME", "hashr-test")
	// a profile with keys: the web identity in the environment comes first
	writeFile(t, filepath.Join(dir, "credentials"), "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = x\n")
	s, err := S3FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	clock := start
	s.creds.now = func() time.Time { return clock }
	for range 2 {
		if _, err := getObject(t, s); err != nil {
			t.Fatal(err)
		}
	}
	sts.mu.Lock()
	sts.token = "eyJ.rotated.token"
	sts.mu.Unlock()
	writeFile(t, tokenFile, "eyJ.rotated.token")
	clock = start.Add(56 * time.Minute) // within the refresh window of the hour
	if _, err := getObject(t, s); err != nil {
		t.Fatal(err)
	}
	if by, _ := fake.seen(); !slices.Equal(by, []string{"ASIASTS1", "ASIASTS1", "ASIASTS2"}) {
		t.Errorf("signed by %v, want the first keys twice, then the refreshed ones", by)
	}
}

func TestAWSWebIdentityErrorsNameTheSource(t *testing.T) {
	dir := isolateAWS(t)
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>", http.StatusForbidden)
	}))
	defer sts.Close()
	tokenFile := filepath.Join(dir, "token")
	writeFile(t, tokenFile, "eyJ.token")
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/hashr")
	s, err := S3FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	_, err = getObject(t, s)
	for _, want := range []string{"AWS_WEB_IDENTITY_TOKEN_FILE", "AssumeRoleWithWebIdentity for arn:aws:iam::123456789012:role/hashr", "AccessDenied", "trust policy"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	t.Setenv("AWS_ROLE_ARN", "")
	s, _ = S3FromEnv()
	if _, err := getObject(t, s); err == nil || !strings.Contains(err.Error(), "set AWS_ROLE_ARN") {
		t.Errorf("no role: %v", err)
	}
}

// fakeIMDS is IMDSv2: a PUT with a TTL header gets a session token, and
// only GETs that carry it are answered; a GET of the token (IMDSv1 has
// none) is refused.
type fakeIMDS struct {
	mu       sync.Mutex
	s3       *fakeS3
	now      time.Time
	puts     int
	creds    int
	rejected []string
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reject := func(status int, why string) {
		f.rejected = append(f.rejected, why)
		http.Error(w, why, status)
	}
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut {
			reject(http.StatusMethodNotAllowed, "the token is got with PUT")
			return
		}
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			reject(http.StatusBadRequest, "no X-aws-ec2-metadata-token-ttl-seconds")
			return
		}
		f.puts++
		fmt.Fprintf(w, "imds-session-%d", f.puts)
		return
	}
	if r.Header.Get("X-aws-ec2-metadata-token") != fmt.Sprintf("imds-session-%d", f.puts) {
		reject(http.StatusUnauthorized, "GET "+r.URL.Path+" without the session token")
		return
	}
	switch r.URL.Path {
	case "/latest/meta-data/iam/security-credentials/":
		w.Write([]byte("hashr-node-role"))
	case "/latest/meta-data/iam/security-credentials/hashr-node-role":
		f.creds++
		c := awsCredentials{AccessKeyID: fmt.Sprintf("ASIAIMDS%d", f.creds), SecretAccessKey: "imds-secret", SessionToken: fmt.Sprintf("imds-token-%d", f.creds)}
		f.s3.allow(c)
		fmt.Fprintf(w, `{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":%q,"SecretAccessKey":%q,"Token":%q,"Expiration":%q}`,
			c.AccessKeyID, c.SecretAccessKey, c.SessionToken, f.now.Add(6*time.Hour).UTC().Format(time.RFC3339))
	default:
		reject(http.StatusNotFound, "no "+r.URL.Path)
	}
}

// Nothing else configured: the instance role, through IMDSv2, refreshed
// before its expiry.
func TestAWSInstanceMetadataV2(t *testing.T) {
	isolateAWS(t)
	fake, srv := newFakeS3(t)
	start := time.Now()
	imds := &fakeIMDS{s3: fake, now: start}
	imdsSrv := httptest.NewServer(imds)
	defer imdsSrv.Close()
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imdsSrv.URL+"/")
	s, err := S3FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	clock := start
	s.creds.now = func() time.Time { return clock }
	for _, at := range []time.Duration{0, time.Hour, 5*time.Hour + 56*time.Minute} {
		clock = start.Add(at)
		if _, err := getObject(t, s); err != nil {
			t.Fatal(err)
		}
	}
	if by, _ := fake.seen(); !slices.Equal(by, []string{"ASIAIMDS1", "ASIAIMDS1", "ASIAIMDS2"}) {
		t.Errorf("signed by %v", by)
	}
	if imds.puts != 2 || len(imds.rejected) > 0 {
		t.Errorf("%d token PUTs (want 2), rejected: %v", imds.puts, imds.rejected)
	}
}

// Off EC2 (IMDS disabled, or nothing answering) and nothing else
// configured, requests go unsigned, as before: public buckets stay
// readable without credentials.
func TestAWSNoCredentialsGoUnsigned(t *testing.T) {
	isolateAWS(t)
	fake, srv := newFakeS3(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, env := range [][2]string{{"AWS_EC2_METADATA_DISABLED", "true"}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", closed.URL}} {
		t.Setenv("AWS_EC2_METADATA_DISABLED", "")
		t.Setenv(env[0], env[1])
		s, err := S3FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := getObject(t, s); err != nil {
			t.Fatalf("%s=%s: %v", env[0], env[1], err)
		}
	}
	if by, unsigned := fake.seen(); len(by) != 0 || unsigned != 2 {
		t.Errorf("signed %v, %d unsigned; want 2 unsigned", by, unsigned)
	}
}

// With no credentials anywhere, the source says so and what to set, for
// the message of a bucket's refusal.
func TestAWSNoCredentialsNamed(t *testing.T) {
	isolateAWS(t)
	_, srv := newFakeS3(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	s, err := S3FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := getObject(t, s); err != nil {
		t.Fatal(err)
	}
	if got := s.CredentialSource(); !strings.Contains(got, "unsigned") || !strings.Contains(got, "hint: set AWS_PROFILE") {
		t.Errorf("source %q", got)
	}
}

// A listing the bucket refuses names the credentials it was made with.
func TestListingRefusalNamesCredentials(t *testing.T) {
	isolateAWS(t)
	_, srv := newFakeS3(t) // knows no keys: refuses every signed request
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWN")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	s, err := S3FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	err = s.List(t.Context(), http.DefaultClient, "bucket", "p/", func(Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden: SignatureDoesNotMatch") || !strings.Contains(err.Error(), "(credentials: the environment (AWS_ACCESS_KEY_ID))") {
		t.Errorf("got %v", err)
	}
}
