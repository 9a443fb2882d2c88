package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hashr-dev/hashr/internal/unpack"
)

// Sentinels a Failure matches with errors.Is, by its Cause.
var (
	ErrProtocol    = errors.New("the sandboxed parser broke the protocol")
	ErrCPULimit    = errors.New("the sandboxed parser went over its CPU time limit")
	ErrMemoryLimit = errors.New("the sandboxed parser went over its memory limit")
	ErrSetup       = errors.New("the sandboxed parser could not set up its sandbox")
	ErrCrashed     = errors.New("the sandboxed parser crashed")
	ErrKilled      = errors.New("the sandboxed parser was killed by a signal")
)

// A Failure is what stopped a child, for the source's error record.
type Failure struct {
	Cause error // one of the sentinels above; nil: it failed, no more known
	msg   string
}

func (f *Failure) Error() string { return f.msg }

// Is matches the Failure's Cause.
func (f *Failure) Is(target error) bool { return f.Cause != nil && target == f.Cause }

// Limits are the limits children run under, which a Failure names.
type Limits struct {
	CPU    time.Duration // --sandbox-cpu
	Memory int64         // --sandbox-memory, bytes
}

// Classify says what stopped a child that ended in st, protocol being
// how its output broke the protocol (nil: it did not), tail its
// messages.
func Classify(st *os.ProcessState, protocol error, tail *Tail, lim Limits) *Failure {
	ws, _ := st.Sys().(syscall.WaitStatus)
	cpu := st.UserTime() + st.SystemTime()
	first, all := tail.First(), tail.String()
	what, cause := classify(ws, cpu, protocol, first, all, lim)
	msg := fmt.Sprintf("the sandboxed parser %s (%v, %v CPU); nothing of this source is kept", what, st, cpu.Round(time.Millisecond))
	if all != "" {
		msg += "; its last messages: " + all
	}
	return &Failure{Cause: cause, msg: msg}
}

// classify is Classify's words and cause, first matching first: a
// clean exit after a protocol error is the protocol's fault, a limit
// explains a signal, and a signal explains a broken output.
func classify(ws syscall.WaitStatus, cpu time.Duration, protocol error, first, all string, lim Limits) (what string, cause error) {
	switch {
	case protocol != nil && !ws.Signaled() && ws.ExitStatus() == 0:
		return "broke the protocol: " + protocol.Error(), ErrProtocol
	case ws.Exited() && ws.ExitStatus() == ExitCPU, ws.Signaled() && ws.Signal() == syscall.SIGXCPU,
		ws.Signaled() && ws.Signal() == syscall.SIGKILL && cpu >= lim.CPU-time.Second:
		return fmt.Sprintf("went over the CPU time limit of %v (set with --sandbox-cpu)", lim.CPU), ErrCPULimit
	case strings.Contains(all, "out of memory") || strings.Contains(first, "out of memory") ||
		strings.Contains(all, "cannot allocate memory"):
		return fmt.Sprintf("went over the memory limit of %s (set with --sandbox-memory)", unpack.FormatSize(lim.Memory, "")), ErrMemoryLimit
	case ws.Exited() && ws.ExitStatus() == ExitSetup:
		return "could not set up its sandbox: " + strings.TrimPrefix(first, "sandbox: "), ErrSetup
	case strings.HasPrefix(first, "panic: "):
		return "crashed: " + first, ErrCrashed
	case ws.Signaled():
		what = "was killed by " + unix.SignalName(ws.Signal())
		if ws.Signal() == syscall.SIGKILL {
			what += " (by the kernel's out-of-memory killer?)"
		}
		return what, ErrKilled
	case protocol != nil:
		return "broke the protocol: " + protocol.Error(), ErrProtocol
	}
	return "failed", nil
}
