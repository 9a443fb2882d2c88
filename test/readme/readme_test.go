// Package readme checks that the project stands alone: the README's
// opening commands are the main job and the tests, need nothing beside
// the clone, and are what CI runs.
package readme

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const root = "../.."

// readmeCommands are the README's opening commands as .ci/run reads them.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "readme-commands.sh"), filepath.Join(root, "README.md")).Output()
	if err != nil {
		t.Fatalf("scripts/readme-commands.sh: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// The README opens with two one-line commands: the main job (set up, fetch
// real Debian packages with the project's own script, load them into
// SQLite) and the tests.
func TestREADMEOpensWithTheMainJobAndTheTests(t *testing.T) {
	cmds := readmeCommands(t)
	if len(cmds) != 2 {
		t.Fatalf("README.md opens with %d command lines before its first \"## \", want 2 (the main job, then make test): %q", len(cmds), cmds)
	}
	job := cmds[0]
	for _, want := range []string{"make setup && ", `"$(scripts/corpus.sh deb)"`, "bin/hashr-load --db sqlite:hashr.db"} {
		if !strings.Contains(job, want) {
			t.Errorf("the main job %q does not have %q", job, want)
		}
	}
	if strings.HasSuffix(job, `\`) {
		t.Errorf("the main job is cut over several lines; keep it one copy-pastable line: %q", job)
	}
	for _, stage := range regexp.MustCompile(`bin/(hashr-[a-z]+)`).FindAllStringSubmatch(job, -1) {
		if _, err := os.Stat(filepath.Join(root, "cmd", stage[1], "main.go")); err != nil {
			t.Errorf("the main job runs %s, which cmd/ does not build: %v", stage[0], err)
		}
	}
	if cmds[1] != "make test" {
		t.Errorf("the second command is %q, want make test", cmds[1])
	}
}

// .ci/run runs the README's commands as the README has them, in a fresh
// clone only root may enter, with a space in its path.
func TestCIRunsTheREADMECommands(t *testing.T) {
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scripts/readme-commands.sh README.md", "mktemp -d", `clone="$top/fresh clone/hashr"`, `git clone -q "$PWD" "$clone"`} {
		if !bytes.Contains(ci, []byte(want)) {
			t.Errorf(".ci/run does not have %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^\s*make test`).Match(ci) {
		t.Errorf(".ci/run runs make test itself; it must run the README's commands, which include it")
	}
}

// Nothing tracked needs the shared folder beside the checkout where this
// project was first developed: a user who clones it has none. Only CI's
// test infrastructure under its tools directory (toolsDir) may be named.
func TestNothingTrackedNeedsShared(t *testing.T) {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	shared := regexp.MustCompile(`\.\./shared|"\.\.", "shared"`)
	// The shared folder's tools directory, the one part CI may name;
	// spelled in pieces so that this check is not itself a reference.
	toolsDir := filepath.Join("..", "shared", "tools")
	for name := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if name == "test/readme/readme_test.go" {
			continue // this check, which names the folder to find it
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue // a file deleted in the work tree, not yet committed
		}
		for i, line := range strings.Split(string(data), "\n") {
			if shared.MatchString(line) && !strings.Contains(line, toolsDir) {
				t.Errorf("%s:%d refers to the shared folder beside the checkout, which a clone does not have (only %s, for CI, may be named): %s", name, i+1, toolsDir, strings.TrimSpace(line))
			}
		}
	}
}
