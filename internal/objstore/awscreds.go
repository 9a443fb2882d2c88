package objstore

import (
	"context"
	"encoding/json"
	"encoding/xml"
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

// AWS credentials are found where the AWS SDKs find them, in the order of
// their default credential provider chain: the keys in the environment,
// a web identity token named by the environment (EKS's IAM roles for
// service accounts), the shared config and credentials files' profile,
// and last the EC2 instance metadata service (IMDSv2). The AWS SDK for PHP
// documents the chain step by step
// (https://docs.aws.amazon.com/sdk-for-php/v3/developer-guide/guide_credentials_default_chain.html);
// the AWS SDK for Go v2 resolves it in the same order (config's
// resolveCredentialChain: environment keys, then AWS_WEB_IDENTITY_TOKEN_FILE,
// then the profile, whose absence of keys falls through to the instance
// role). SSO, credential_process, source_profile role chains and ECS task
// roles are not spoken here; a profile that needs one says so, with the
// AWS CLI command that exports its keys.

// awsCredentials is one set of keys to sign with.
type awsCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expires                                    time.Time // zero: they do not expire
}

// awsSource is one place of the chain; String names it in messages.
type awsSource interface {
	retrieve(ctx context.Context) (awsCredentials, error)
	String() string
}

// errAnonymous is what a source answers when there turned out to be no
// credentials at all (not on EC2): requests then go unsigned, which is
// what a public bucket needs.
var errAnonymous = errors.New("no credentials: requests go unsigned")

// awsRefreshWindow is how long before expiry credentials are fetched
// anew: EC2 offers new role credentials at least five minutes before the
// old ones expire, and a download begun on keys about to expire would
// fail half-way.
const awsRefreshWindow = 5 * time.Minute

// awsCredentialCache hands out a source's credentials, fetching them
// again when they come close to expiry.
type awsCredentialCache struct {
	source awsSource
	now    func() time.Time

	mu        sync.Mutex
	creds     awsCredentials
	have      bool
	anonymous bool
}

func newAWSCredentialCache(src awsSource) *awsCredentialCache {
	return &awsCredentialCache{source: src, now: time.Now}
}

// isAnonymous says whether the chain turned out to hold no credentials.
func (c *awsCredentialCache) isAnonymous() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.anonymous
}

// get returns credentials to sign with, or ok false to send unsigned.
func (c *awsCredentialCache) get(ctx context.Context) (creds awsCredentials, ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.anonymous {
		return awsCredentials{}, false, nil
	}
	if c.have && (c.creds.Expires.IsZero() || c.now().Before(c.creds.Expires.Add(-awsRefreshWindow))) {
		return c.creds, true, nil
	}
	creds, err = c.source.retrieve(ctx)
	if errors.Is(err, errAnonymous) {
		c.anonymous = true
		return awsCredentials{}, false, nil
	}
	if err != nil {
		return awsCredentials{}, false, fmt.Errorf("getting AWS credentials from %s: %w", c.source, err)
	}
	c.creds, c.have = creds, true
	return creds, true, nil
}

// staticSource is keys given outright: the environment's or a profile's.
type staticSource struct {
	creds awsCredentials
	name  string
}

func (s staticSource) retrieve(context.Context) (awsCredentials, error) { return s.creds, nil }
func (s staticSource) String() string                                   { return s.name }

// failedSource is a chain step that cannot give credentials, found when
// the configuration was read; the error waits for the first signed
// request, so a run that never touches S3 is not stopped by it.
type failedSource struct {
	name string
	err  error
}

func (s failedSource) retrieve(context.Context) (awsCredentials, error) {
	return awsCredentials{}, s.err
}
func (s failedSource) String() string { return s.name }

// awsEnv is what the chain reads from the environment and the files.
type awsEnv struct {
	getenv  func(string) string
	profile map[string]string // the selected profile's keys, files merged
	region  string
}

// resolveAWSChain picks the chain's first step that applies. Reading the
// files happens here; everything that needs the network (STS, IMDS)
// happens at the first signed request.
func resolveAWSChain(env awsEnv, client *http.Client) awsSource {
	get := env.getenv
	if id := get("AWS_ACCESS_KEY_ID"); id != "" {
		return staticSource{name: "the environment (AWS_ACCESS_KEY_ID)", creds: awsCredentials{
			AccessKeyID: id, SecretAccessKey: get("AWS_SECRET_ACCESS_KEY"), SessionToken: get("AWS_SESSION_TOKEN")}}
	}
	if file := get("AWS_WEB_IDENTITY_TOKEN_FILE"); file != "" {
		return newWebIdentitySource(env, file, get("AWS_ROLE_ARN"), get("AWS_ROLE_SESSION_NAME"),
			"AWS_WEB_IDENTITY_TOKEN_FILE", client)
	}
	if src := profileSource(env, client); src != nil {
		return src
	}
	return newIMDSSource(get, client)
}

// profileSource is the profile's own credentials, or nil when it has
// none (the chain goes on to the instance role, as the SDKs do).
func profileSource(env awsEnv, client *http.Client) awsSource {
	p := env.profile
	name := "the shared config profile " + strconv.Quote(profileName(env.getenv))
	switch {
	case p["aws_access_key_id"] != "":
		return staticSource{name: name, creds: awsCredentials{AccessKeyID: p["aws_access_key_id"],
			SecretAccessKey: p["aws_secret_access_key"], SessionToken: p["aws_session_token"]}}
	case p["web_identity_token_file"] != "":
		return newWebIdentitySource(env, p["web_identity_token_file"], p["role_arn"], p["role_session_name"],
			name+"'s web_identity_token_file", client)
	}
	for _, key := range []string{"source_profile", "credential_source", "credential_process", "sso_session", "sso_start_url", "login_session"} {
		if p[key] != "" {
			return failedSource{name: name, err: fmt.Errorf("its %s is not supported by hashr "+
				"(hint: export the keys it gives with `aws configure export-credentials --profile %s --format env`)",
				key, profileName(env.getenv))}
		}
	}
	return nil
}

// readAWSEnv reads the environment and the selected profile of the
// shared config and credentials files.
func readAWSEnv(getenv func(string) string) (awsEnv, error) {
	env := awsEnv{getenv: getenv}
	profile, err := loadProfile(getenv)
	if err != nil {
		return env, err
	}
	env.profile = profile
	env.region = firstOf(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), profile["region"], "us-east-1")
	return env, nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// expiringCredentials is the JSON and XML shape STS and IMDS answer with.
type expiringCredentials struct {
	AccessKeyID     string `json:"AccessKeyId" xml:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey" xml:"SecretAccessKey"`
	Token           string `json:"Token"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      time.Time
}

func (e expiringCredentials) credentials() (awsCredentials, error) {
	if e.AccessKeyID == "" || e.SecretAccessKey == "" {
		return awsCredentials{}, errors.New("the answer holds no AccessKeyId and SecretAccessKey")
	}
	return awsCredentials{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey,
		SessionToken: firstOf(e.Token, e.SessionToken), Expires: e.Expiration}, nil
}

// webIdentitySource trades an OIDC token (on EKS, the projected service
// account token) for a role's credentials with STS
// AssumeRoleWithWebIdentity, a call that needs no signature.
type webIdentitySource struct {
	tokenFile, roleARN, sessionName string
	endpoint                        string
	name                            string
	client                          *http.Client
}

func newWebIdentitySource(env awsEnv, tokenFile, roleARN, sessionName, name string, client *http.Client) awsSource {
	if roleARN == "" {
		return failedSource{name: name, err: errors.New("a web identity token needs the role to assume (hint: set AWS_ROLE_ARN, or role_arn in the profile)")}
	}
	if sessionName == "" {
		// The SDKs make one up when none is given; it shows in CloudTrail.
		sessionName = "hashr-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	// AWS_ENDPOINT_URL_STS, or AWS_ENDPOINT_URL for every service, as the
	// SDKs' service-specific endpoints allow; else STS in the region.
	endpoint := firstOf(env.getenv("AWS_ENDPOINT_URL_STS"), env.getenv("AWS_ENDPOINT_URL"), "https://sts."+env.region+".amazonaws.com")
	return &webIdentitySource{tokenFile: tokenFile, roleARN: roleARN, sessionName: sessionName,
		endpoint: endpoint, name: name + " (STS AssumeRoleWithWebIdentity for " + roleARN + ")", client: client}
}

func (w *webIdentitySource) String() string { return w.name }

func (w *webIdentitySource) retrieve(ctx context.Context) (awsCredentials, error) {
	// The token file is read for every exchange: the kubelet rotates it.
	token, err := os.ReadFile(w.tokenFile)
	if err != nil {
		return awsCredentials{}, fmt.Errorf("reading the web identity token: %w", err)
	}
	form := url.Values{
		"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"},
		"RoleArn": {w.roleARN}, "RoleSessionName": {w.sessionName},
		"WebIdentityToken": {strings.TrimSpace(string(token))},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return awsCredentials{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := w.client.Do(req)
	if err != nil {
		return awsCredentials{}, err
	}
	var answer struct {
		Result struct {
			Credentials expiringCredentials
		} `xml:"AssumeRoleWithWebIdentityResult"`
	}
	if err := decodeAnswer(resp, func(r io.Reader) error { return xml.NewDecoder(r).Decode(&answer) }); err != nil {
		return awsCredentials{}, fmt.Errorf("%w (hint: the role's trust policy must allow this cluster's OIDC provider and service account)", err)
	}
	return answer.Result.Credentials.credentials()
}

// imdsSource is the EC2 instance role, through the instance metadata
// service's version 2: a session token got with a PUT, then sent with
// every GET (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html).
type imdsSource struct {
	endpoint string
	disabled bool
	client   *http.Client
}

// imdsProbeTimeout bounds the first PUT: off EC2 nothing answers at the
// link-local address, and a run reading a public bucket should not wait.
const imdsProbeTimeout = 2 * time.Second

func newIMDSSource(getenv func(string) string, client *http.Client) awsSource {
	return &imdsSource{
		endpoint: strings.TrimSuffix(firstOf(getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"), "http://169.254.169.254"), "/"),
		disabled: strings.EqualFold(getenv("AWS_EC2_METADATA_DISABLED"), "true"),
		client:   client,
	}
}

func (m *imdsSource) String() string {
	return "the EC2 instance metadata service at " + m.endpoint
}

func (m *imdsSource) retrieve(ctx context.Context) (awsCredentials, error) {
	if m.disabled {
		return awsCredentials{}, errAnonymous
	}
	token, err := m.sessionToken(ctx)
	if err != nil {
		// Not on EC2 (nothing answers, or IMDS is off): no credentials.
		return awsCredentials{}, errAnonymous
	}
	roles, err := m.get(ctx, token, "/latest/meta-data/iam/security-credentials/")
	if err != nil {
		var status *StatusError
		if errors.As(err, &status) && status.Code == http.StatusNotFound {
			return awsCredentials{}, errAnonymous // an instance without a role
		}
		return awsCredentials{}, fmt.Errorf("listing the instance's roles: %w", err)
	}
	role, _, _ := strings.Cut(strings.TrimSpace(string(roles)), "\n")
	body, err := m.get(ctx, token, "/latest/meta-data/iam/security-credentials/"+role)
	if err != nil {
		return awsCredentials{}, fmt.Errorf("getting role %s's credentials: %w", role, err)
	}
	var answer expiringCredentials
	if err := json.Unmarshal(body, &answer); err != nil {
		return awsCredentials{}, fmt.Errorf("role %s's credentials: %w", role, err)
	}
	return answer.credentials()
}

// sessionToken is IMDSv2's token, for six hours (the SDKs' default).
func (m *imdsSource) sessionToken(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, imdsProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, m.endpoint+"/latest/api/token", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
	resp, err := m.client.Do(req)
	if err != nil {
		return "", err
	}
	var token []byte
	err = decodeAnswer(resp, func(r io.Reader) (err error) { token, err = io.ReadAll(r); return err })
	return strings.TrimSpace(string(token)), err
}

func (m *imdsSource) get(ctx context.Context, token, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Aws-Ec2-Metadata-Token", token)
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	var body []byte
	err = decodeAnswer(resp, func(r io.Reader) (err error) { body, err = io.ReadAll(r); return err })
	return body, err
}
