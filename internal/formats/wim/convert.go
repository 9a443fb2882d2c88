package wim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// WimlibTool is the program Convert runs (Debian package wimtools).
const WimlibTool = "wimlib-imagex"

// Convert rewrites the WIM src as dst with every image, uncompressed and
// not solid, which this package walks: the fallback for what it does not
// decode itself (ErrNeedsWimlib). It runs wimlib-imagex as a child
// process; dst needs room for the images' bytes once each (the WIM keeps
// one copy of each distinct content). Of a split WIM, src is part 1 and
// refs the other parts; the result is one whole WIM.
func Convert(ctx context.Context, src, dst string, refs ...string) error {
	path, err := exec.LookPath(WimlibTool)
	if err != nil {
		return fmt.Errorf("%w, and %s is not installed: install Debian's wimtools", ErrNeedsWimlib, WimlibTool)
	}
	// export refuses to write over a file; dst may be a fresh temporary.
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	args := []string{"export", src, "all", dst, "--compress=none", "--threads=1"}
	for _, ref := range refs {
		args = append(args, "--ref="+ref)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(dst)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s export %s: %v: %s", WimlibTool, src, err, strings.TrimSpace(lastLines(stderr.String(), 3)))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
