package cli_test

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/hashcmd"
	"github.com/hashr-dev/hashr/internal/scan"
)

// hashr-extract --spool | hashr-hash --delete, both running at once as in
// a shell pipeline, leaves nothing behind in the spool: no files and no
// directories (before, every member's directory stayed, empty). Sources
// with deep trees, shared directory names and one source given twice (its
// second spool directory is SHA256.2) are extracted while the files of the
// ones before are hashed and deleted.
func TestSpoolLeavesNoDirectories(t *testing.T) {
	needTool(t, "tar", "tar")
	work := t.TempDir()
	repo := filepath.Join(work, "repo")
	for i := range 6 {
		tree := filepath.Join(work, fmt.Sprintf("tree%d", i))
		for j := range 20 {
			rel := fmt.Sprintf("usr/share/doc/pkg%d/sub%d/deeper/file%d.txt", j%4, j%3, j)
			writeTreeFile(t, tree, rel, []byte(fmt.Sprintf("source %d file %d\n", i, j)))
		}
		writeTreeFile(t, tree, "top.txt", []byte(fmt.Sprintf("top %d\n", i)))
		os.MkdirAll(repo, 0o755)
		if out, err := exec.Command("tar", "-C", tree, "-cf", filepath.Join(repo, fmt.Sprintf("s%d.tar", i)), ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
	}
	sources := stage(t, scan.Main, nil, "--quiet", "--plan=false", repo) // the first line a source
	first, _, _ := bytes.Cut(sources, []byte("\n"))
	sources = append(sources, append(first, '\n')...) // the first source again

	spool := filepath.Join(work, "spool")
	pr, pw := io.Pipe()
	var extractErr, hashErr, hashOut bytes.Buffer
	extracted := make(chan int, 1)
	go func() {
		status := extract.Main([]string{"--spool", spool, "--workers", "2"}, bytes.NewReader(sources), pw, &extractErr)
		pw.Close()
		extracted <- status
	}()
	if status := hashcmd.Main([]string{"--delete", "--workers", "2"}, pr, &hashOut, &hashErr); status != 0 {
		t.Fatalf("hashr-hash: exit %d\n%s", status, hashErr.String())
	}
	if status := <-extracted; status != 0 {
		t.Fatalf("hashr-extract: exit %d\n%s", status, extractErr.String())
	}
	if n := strings.Count(hashOut.String(), `"type":"file"`); n != 7*21 {
		t.Fatalf("%d file records, want %d", n, 7*21)
	}
	var left []string
	filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
		if p != spool {
			left = append(left, strings.TrimPrefix(p, spool+"/"))
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("the spool still holds %d entries, e.g. %q", len(left), left[:min(len(left), 5)])
	}
}
