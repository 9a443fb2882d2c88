// Package cli is the plumbing every hashr command shares: streams injected
// for in-process tests, --quiet and --verbose, HASHR_<FLAG> environment
// defaults, the mapping of errors to exit codes, messages on stderr,
// SIGINT/SIGTERM handling and the clean-up of temporary files.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses, the same for every command.
const (
	ExitOK      = 0 // all done
	ExitFatal   = 1 // a fatal error: the run did not finish
	ExitUsage   = 2 // bad usage: flags, arguments, environment
	ExitPartial = 3 // finished, but some sources or members failed
)

// ExitCodesHelp documents the exit statuses in every command's --help.
const ExitCodesHelp = `Exit status: 0 all done; 1 fatal error; 2 bad usage; 3 finished, but some
sources, members or input lines failed (their error records were written).`

// UsageError is a mistake in how the command was called.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ErrInterrupted ends a run stopped by SIGINT or SIGTERM.
var ErrInterrupted = errors.New("interrupted: records finished so far were written")

// IsInterrupted says whether err ends a run that was stopped: by SIGINT
// or SIGTERM, or its context cancelled. A stage returns its context's
// error as it comes; this is the one place that reads it as an
// interruption (Execute reports it with ErrInterrupted's message).
func IsInterrupted(err error) bool {
	return errors.Is(err, ErrInterrupted) || errors.Is(err, context.Canceled)
}

// Program is one run of one command: its streams, its messages, and what
// must be cleaned up however the run ends.
type Program struct {
	Name   string // e.g. "hashr-hash"
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	Quiet   bool
	Verbose bool
	// MaxLine is the longest input line read (--max-line).
	MaxLine int
	// StopsOnSignal marks a server (hashr-serve): SIGINT or SIGTERM is how
	// it is meant to end, so a run that then returns nil exits 0.
	StopsOnSignal bool

	progress progressState // --progress and the line it draws (progress.go)

	failures atomic.Int64
	msgMu    sync.Mutex

	cleanMu  sync.Mutex
	cleanups []func()
}

// New returns a Program for the command name with the given streams.
func New(name string, stdin io.Reader, stdout, stderr io.Writer) *Program {
	return &Program{Name: name, Stdin: stdin, Stdout: stdout, Stderr: stderr, MaxLine: records.DefaultMaxLine}
}

// Command returns the root cobra command with the shared flags. run gets
// a context that is cancelled by SIGINT or SIGTERM.
func (p *Program) Command(use, short, long, example string, run func(ctx context.Context, args []string) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:           use,
		Short:         short,
		Long:          strings.TrimSpace(long) + "\n\n" + ExitCodesHelp,
		Example:       example,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			p.startProgress()
			defer p.stopProgress()
			return run(cmd.Context(), args)
		},
	}
	p.AddSharedFlags(cmd)
	return cmd
}

// AddSharedFlags adds --quiet, --verbose and --progress to cmd.
func (p *Program) AddSharedFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().BoolVarP(&p.Quiet, "quiet", "q", false, "print only errors on stderr")
	cmd.PersistentFlags().BoolVarP(&p.Verbose, "verbose", "v", false, "say more on stderr: every skipped or retried item, fallbacks used")
	p.addProgressFlag(cmd)
}

// Execute runs cmd with args and returns the exit status. It applies
// HASHR_<FLAG> environment defaults, handles signals, reports the error
// and runs the clean-ups registered with OnExit.
func (p *Program) Execute(cmd *cobra.Command, args []string) (status int) {
	defer p.runCleanups()
	defer func() {
		// A panic is a bug, but the user still gets a message and a status
		// rather than a Go trace on a half-written stream.
		if r := recover(); r != nil {
			p.Errorf("internal error: %v", r)
			p.Hint("this is a bug in %s; please report it with the input that caused it", p.Name)
			status = ExitFatal
		}
	}()
	cmd.SetArgs(args)
	cmd.SetIn(p.Stdin)
	cmd.SetOut(p.Stderr) // help and usage text are for people
	cmd.SetErr(p.Stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	visitCommands(cmd, func(c *cobra.Command) {
		c.SilenceUsage, c.SilenceErrors = true, true
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
		if c.Args != nil {
			check := c.Args
			c.Args = func(c *cobra.Command, args []string) error {
				if err := check(c, args); err != nil {
					return &UsageError{Err: err}
				}
				return nil
			}
		}
	})
	if err := applyEnvDefaults(cmd); err != nil {
		p.Errorf("%v", err)
		return ExitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.ExecuteContext(ctx)
	if err == nil && ctx.Err() != nil && !p.StopsOnSignal {
		err = ErrInterrupted
	}
	return p.exitStatus(err)
}

func (p *Program) exitStatus(err error) int {
	var usage *UsageError
	switch {
	case err == nil:
		if p.failures.Load() > 0 {
			return ExitPartial
		}
		return ExitOK
	case errors.As(err, &usage) || isCobraUsage(err):
		p.Errorf("%v", err)
		p.Hint("run '%s --help' for usage", p.Name)
		return ExitUsage
	case errors.Is(err, context.Canceled): // ErrInterrupted itself says so below
		p.Errorf("%v", ErrInterrupted)
		return ExitFatal
	default:
		p.Errorf("%v", err)
		return ExitFatal
	}
}

// isCobraUsage recognises the usage errors cobra makes itself.
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag")
}

func visitCommands(cmd *cobra.Command, f func(*cobra.Command)) {
	f(cmd)
	for _, c := range cmd.Commands() {
		visitCommands(c, f)
	}
}

// EnvName is the environment variable that sets a flag's default.
func EnvName(flag string) string {
	return "HASHR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// DescribeEnv names, in each flag's help, the environment variable that
// sets its default.
func DescribeEnv(root *cobra.Command) {
	visitFlags(root, func(f *pflag.Flag) {
		if !strings.Contains(f.Usage, "[$HASHR_") {
			f.Usage += " [$" + EnvName(f.Name) + "]"
		}
	})
}

// applyEnvDefaults sets each flag whose HASHR_<FLAG> variable is set, before
// the command line is parsed (so the command line still wins), and names the
// variable in the flag's help.
func applyEnvDefaults(root *cobra.Command) error {
	DescribeEnv(root)
	var firstErr error
	visitFlags(root, func(f *pflag.Flag) {
		env := EnvName(f.Name)
		val, ok := os.LookupEnv(env)
		if !ok {
			return
		}
		if err := f.Value.Set(val); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("environment variable %s=%q: %w", env, val, err)
		}
		f.DefValue = f.Value.String()
	})
	return firstErr
}

// visitFlags calls f on every flag of every command once, --help excepted.
func visitFlags(root *cobra.Command, f func(*pflag.Flag)) {
	seen := map[*pflag.Flag]bool{}
	visitCommands(root, func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(fl *pflag.Flag) {
				if fl.Name != "help" && !seen[fl] {
					seen[fl] = true
					f(fl)
				}
			})
		}
	})
}

// OnExit registers f to run when the command ends, however it ends:
// removing temporary files, closing stores.
func (p *Program) OnExit(f func()) {
	p.cleanMu.Lock()
	defer p.cleanMu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

func (p *Program) runCleanups() {
	p.cleanMu.Lock()
	fs := p.cleanups
	p.cleanups = nil
	p.cleanMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
