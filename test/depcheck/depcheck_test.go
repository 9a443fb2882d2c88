// Package depcheck keeps heavy imports out of the commands that do not need
// them (STYLE.md): a hashdeep-like run of hashr-hash must not link a
// database driver or the dedup store.
package depcheck

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// heavy lists module paths that only the commands named with them may link.
// hashr-scan reads the jobs table for --db (internal/db.DoneJobs).
var heavy = map[string][]string{
	"github.com/jackc/pgx":          {"hashr-load", "hashr-export", "hashr-lookup", "hashr-scan", "hashr-serve"},
	"modernc.org/sqlite":            {"hashr-load", "hashr-export", "hashr-lookup", "hashr-scan", "hashr-serve"},
	"github.com/cockroachdb/pebble": {"hashr-dedup"},
	// OpenPGP (issue 22): hashr-scan checks an apt suite's signed
	// Release (internal/verify/apt); ProtonMail's go-crypto is the
	// maintained fork of the frozen x/crypto/openpgp, and circl is its
	// curve library. Only the stages that verify link them: hashr-fetch
	// checks a downloaded rpm's signature, which scan cannot read whole.
	"github.com/ProtonMail/go-crypto": {"hashr-scan", "hashr-fetch"},
	"github.com/cloudflare/circl":     {"hashr-scan", "hashr-fetch"},
	// S3 and GCS are spoken over plain HTTP (internal/objstore): no
	// command links a cloud SDK, nor the test fakes.
	"github.com/aws/":                   nil,
	"cloud.google.com/go":               nil,
	"google.golang.org/api":             nil,
	"github.com/johannesboyne/gofakes3": nil,
	"github.com/fsouza/fake-gcs-server": nil,
	// hashr-serve's page is tested in a real headless Chromium driven by
	// chromedp (internal/serve/browser_test.go): a test dependency only.
	"github.com/chromedp/": nil,
}

func TestCommandsDoNotLinkHeavyDependencies(t *testing.T) {
	dirs, err := filepath.Glob("../../cmd/hashr-*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no commands found under cmd/: %v", err)
	}
	for _, dir := range dirs {
		cmd := filepath.Base(dir)
		out, err := exec.Command("go", "list", "-deps", "./"+filepath.ToSlash(dir)).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", cmd, err, out)
		}
		for dep := range strings.Lines(string(out)) {
			for module, allowed := range heavy {
				if strings.HasPrefix(dep, module) && !slices.Contains(allowed, cmd) {
					t.Errorf("%s links %s", cmd, strings.TrimSpace(dep))
				}
			}
		}
	}
}
