package verifytest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PKI is a throwaway CA, a code-signing certificate it issued (valid 30
// days) and a time-stamping authority's (valid a year): PEM files.
type PKI struct {
	Dir, CA, Leaf, LeafKey, TSA, TSAKey string
}

// NewPKI makes a PKI whose names start with name ("NAME Test Root",
// "NAME Code Signing", "NAME TSA"), with openssl.
func NewPKI(t testing.TB, name string) *PKI {
	Need(t, "openssl")
	dir := t.TempDir()
	p := &PKI{Dir: dir, CA: filepath.Join(dir, "ca.pem"), Leaf: filepath.Join(dir, "leaf.pem"), LeafKey: filepath.Join(dir, "leaf.key"),
		TSA: filepath.Join(dir, "tsa.pem"), TSAKey: filepath.Join(dir, "tsa.key")}
	run := func(args ...string) { Run(t, dir, nil, "openssl", args...) }
	run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
		"-subj", "/CN="+name+" Test Root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
	issue := func(base, subject, ext, days string) {
		run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", base+".key", "-out", base+".csr", "-subj", subject)
		if err := os.WriteFile(filepath.Join(dir, base+".cnf"), []byte(ext), 0o644); err != nil {
			t.Fatal(err)
		}
		run("x509", "-req", "-in", base+".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", base+".pem", "-days", days, "-extfile", base+".cnf")
	}
	issue("leaf", "/O=hashr tests/CN="+name+" Code Signing", "extendedKeyUsage=codeSigning\nkeyUsage=critical,digitalSignature\n", "30")
	issue("tsa", "/O=hashr tests/CN="+name+" TSA", "extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n", "365")
	return p
}

// Timestamp has osslsigncode timestamp a signature itself, as p's TSA
// would (RFC 3161), at the time at: no network is needed.
func (p *PKI) Timestamp(at time.Time) []string {
	return []string{"-TSA-certs", p.TSA, "-TSA-key", p.TSAKey, "-TSA-time", fmt.Sprint(at.Unix())}
}

// Sign signs in with osslsigncode (SHA-256), writing out; extra is added
// to its command line (Timestamp's options).
func (p *PKI) Sign(t testing.TB, in, out string, extra ...string) {
	Need(t, "osslsigncode")
	args := append([]string{"sign", "-certs", p.Leaf, "-key", p.LeafKey, "-h", "sha256"}, extra...)
	Run(t, filepath.Dir(in), nil, "osslsigncode", append(args, "-in", in, "-out", out)...)
}

// CAB builds a cabinet with gcab in dir, named name, holding hello.txt.
func CAB(t testing.TB, dir, name string) string {
	Need(t, "gcab")
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(strings.Repeat("hello cabinet\n", 50)), 0o644); err != nil {
		t.Fatal(err)
	}
	Run(t, dir, nil, "gcab", "-c", name, "hello.txt")
	return filepath.Join(dir, name)
}

// SignedCAB builds a cabinet and signs it into dir/name.
func (p *PKI) SignedCAB(t testing.TB, dir, name string, extra ...string) string {
	plain := CAB(t, t.TempDir(), "plain.cab")
	out := filepath.Join(dir, name)
	p.Sign(t, plain, out, extra...)
	return out
}

// PE cross-compiles a Go hello world for Windows into dir/name: a real
// PE file (GOOS=windows), unsigned.
func PE(t testing.TB, dir, name string) string {
	Need(t, "go") // the go command running the tests is on PATH
	src := filepath.Join(t.TempDir(), "hello.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"hello, signed world\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	Run(t, filepath.Dir(src), []string{"GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS="}, "go", "build", "-ldflags=-s -w", "-o", out, src)
	return out
}

// SignedPE builds a PE file and signs it into dir/name.
func (p *PKI) SignedPE(t testing.TB, dir, name string, extra ...string) string {
	plain := PE(t, t.TempDir(), "plain.exe")
	out := filepath.Join(dir, name)
	p.Sign(t, plain, out, extra...)
	return out
}
