// Package depcheck keeps heavy imports out of the commands that do not need
// them (STYLE.md): a hashdeep-like run of hashr-hash must not link a
// database driver or the dedup store.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden lists, per command, module paths that must not be linked in.
var forbidden = map[string][]string{
	"hashr-scan":    {"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/cockroachdb/pebble"},
	"hashr-fetch":   {"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/cockroachdb/pebble"},
	"hashr-hash":    {"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/cockroachdb/pebble"},
	"hashr-extract": {"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/cockroachdb/pebble"},
	"hashr-dedup":   {"github.com/jackc/pgx", "modernc.org/sqlite"},
}

func TestCommandsDoNotLinkHeavyDependencies(t *testing.T) {
	for cmd, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "github.com/hashr-dev/hashr/cmd/"+cmd).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "cannot find package") || strings.Contains(string(out), "is not in std") {
				t.Errorf("%s does not exist yet: %s", cmd, out)
				continue
			}
			t.Fatalf("go list -deps %s: %v\n%s", cmd, err, out)
		}
		for dep := range strings.Lines(string(out)) {
			for _, b := range bad {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s links %s", cmd, strings.TrimSpace(dep))
				}
			}
		}
	}
}
