// Package verifytest builds signed fixtures with the real tools (gpg,
// apt-ftparchive, rpmsign, osslsigncode) for the verify packages' tests.
package verifytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Need skips t when a tool is missing (scripts/setup.sh installs them).
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (see .ci/install-deps.txt)", tool)
		}
	}
}

// Run runs a command in dir with env added, failing t on error.
func Run(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// GPG is a throwaway gpg home with one signing key.
type GPG struct {
	Home        string
	Fingerprint string // upper-case hex
	Keyring     string // binary public keyring (.gpg)
	Armored     string // armored public key (.asc)
}

// Env is the environment that points gpg at the throwaway home.
func (g *GPG) Env() []string { return []string{"GNUPGHOME=" + g.Home} }

// NewGPG makes a key named name (algo as gpg's --quick-gen-key takes it,
// e.g. ed25519 or rsa2048) and exports its public half.
func NewGPG(t testing.TB, name, algo string) *GPG {
	t.Helper()
	Need(t, "gpg", "gpgconf")
	// gpg-agent's socket path must be short: a home under /tmp directly.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	g := &GPG{Home: home}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		_ = os.RemoveAll(home)
	})
	uid := name + " <" + name + "@example.invalid>"
	g.run(t, "--batch", "--passphrase", "", "--quick-gen-key", uid, algo, "sign", "never")
	out := g.run(t, "--batch", "--with-colons", "--fingerprint", uid)
	for line := range strings.Lines(out) {
		if f := strings.Split(line, ":"); f[0] == "fpr" && g.Fingerprint == "" {
			g.Fingerprint = strings.ToUpper(f[9])
		}
	}
	dir := t.TempDir()
	g.Keyring, g.Armored = filepath.Join(dir, name+".gpg"), filepath.Join(dir, name+".asc")
	g.run(t, "--batch", "--yes", "-o", g.Keyring, "--export", uid)
	g.run(t, "--batch", "--yes", "--armor", "-o", g.Armored, "--export", uid)
	return g
}

func (g *GPG) run(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, "", g.Env(), "gpg", append([]string{"--homedir", g.Home}, args...)...)
}

// Sign runs gpg with args (e.g. --clearsign -o OUT IN) under the key.
func (g *GPG) Sign(t testing.TB, args ...string) {
	t.Helper()
	g.run(t, append([]string{"--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
}
