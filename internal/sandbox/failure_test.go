package sandbox

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// exited runs sh -c script and returns its process state.
func exited(t *testing.T, script string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Run()
	return cmd
}

// Classify names each cause by its sentinel, and says it in the message
// that goes into the source's error record.
func TestClassifyCauses(t *testing.T) {
	lim := Limits{CPU: time.Hour, Memory: 64 << 20}
	for _, tc := range []struct {
		name, script string
		protocol     error
		messages     []string
		want         error
		words        string
	}{
		{"protocol", "exit 0", errors.New("it wrote a record of type \"x\""), nil, ErrProtocol, "broke the protocol"},
		{"cpu", "exit 124", nil, nil, ErrCPULimit, "CPU time limit of 1h0m0s"},
		{"memory", "exit 2", nil, []string{"fatal error: runtime: out of memory"}, ErrMemoryLimit, "memory limit of 64M"},
		{"setup", "exit 125", nil, []string{"sandbox: landlock: no"}, ErrSetup, "could not set up its sandbox: landlock: no"},
		{"panic", "exit 2", nil, []string{"panic: boom", "goroutine 1"}, ErrCrashed, "crashed: panic: boom"},
		{"signal", "kill -TERM $$", nil, nil, ErrKilled, "was killed by SIGTERM"},
		{"failed", "exit 1", nil, nil, nil, "the sandboxed parser failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tail := &Tail{}
			for _, m := range tc.messages {
				tail.add(m)
			}
			f := Classify(exited(t, tc.script).ProcessState, tc.protocol, tail, lim)
			if tc.want != nil && !errors.Is(f, tc.want) {
				t.Errorf("%v: not %v", f, tc.want)
			}
			if tc.want == nil && f.Cause != nil {
				t.Errorf("%v: cause %v, want none", f, f.Cause)
			}
			if !strings.Contains(f.Error(), tc.words) || !strings.Contains(f.Error(), "nothing of this source is kept") {
				t.Errorf("message %q lacks %q", f.Error(), tc.words)
			}
		})
	}
}
