package objstore

import (
	"net/http"
	"testing"
	"time"
)

// The "GET Object" example of AWS's SigV4 documentation (Signature
// Calculations for the Authorization Header: Transferring Payload in a
// Single Chunk), signed with its example credentials.
func TestSignAWSExample(t *testing.T) {
	keys := awsCredentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	s := &S3{Region: "us-east-1", creds: newAWSCredentialCache(staticSource{creds: keys, name: "the example's keys"}),
		now: func() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) }}
	req, err := http.NewRequest(http.MethodGet, s.ObjectURL("examplebucket", "test.txt").String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.Host != "examplebucket.s3.us-east-1.amazonaws.com" {
		t.Errorf("host %s", req.URL.Host)
	}
	req.URL.Host = "examplebucket.s3.amazonaws.com" // the example's global endpoint
	req.Header.Set("Range", "bytes=0-9")
	if err := s.Sign(req); err != nil {
		t.Fatal(err)
	}
	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization:\n got %s\nwant %s", got, want)
	}
}

func TestCanonicalQuery(t *testing.T) {
	q := map[string][]string{"prefix": {"a b/c"}, "list-type": {"2"}, "continuation-token": {"x+y="}}
	if got, want := canonicalQuery(q), "continuation-token=x%2By%3D&list-type=2&prefix=a%20b%2Fc"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
