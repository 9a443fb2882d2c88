package extract

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

// A member name holding an ESC sequence, a BEL and a LF reaches stderr
// escaped, from the parent and from a sandboxed child alike: no window
// title set, no forged "hashr-extract:" line. The error record on stdout
// keeps the exact name.
func TestMemberNamesReachStderrEscaped(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar not installed")
	}
	const name = "a\x1b]0;pwned\x07\nhashr-extract: forged"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat("x", 4096)), 0o644); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "evil.tar")
	if out, err := exec.Command("tar", "-C", dir, "-cf", tarball, name).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	for _, sandbox := range []string{"", "1"} {
		t.Run("HASHR_NO_SANDBOX="+sandbox, func(t *testing.T) {
			t.Setenv("HASHR_NO_SANDBOX", sandbox) // restored after the test
			if sandbox == "" {
				os.Unsetenv("HASHR_NO_SANDBOX")
			}
			// --max-member-bytes fails the member, so its name is in a message.
			o := extract(t, sourceLine(tarball), "--hash", "sha256", "--max-member-bytes", "1K", "--quiet")
			if o.status != 3 {
				t.Fatalf("status %d, stderr:\n%s", o.status, o.stderr)
			}
			for _, c := range []byte(o.stderr) {
				if c < 0x20 && c != '\n' || c == 0x7f {
					t.Fatalf("raw control byte 0x%02x on stderr:\n%q", c, o.stderr)
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(o.stderr), "\n") {
				if strings.HasPrefix(line, "hashr-extract: warning: --no-sandbox") {
					continue // said even with --quiet, by design
				}
				if !strings.HasPrefix(line, "hashr-extract: error: ") {
					t.Errorf("stderr line not an error of its own: %q", line)
				}
			}
			if !strings.Contains(o.stderr, `a\x1b]0;pwned\x07\nhashr-extract: forged`) {
				t.Errorf("stderr does not name the member escaped:\n%s", o.stderr)
			}
			found := false
			for _, r := range o.records {
				if e, ok := r.(*records.Error); ok && e.Path == name {
					found = true
				}
			}
			if !found {
				t.Errorf("no error record with the exact name; records:\n%s", strings.Join(o.lines, "\n"))
			}
		})
	}
}
