// Package cli_test runs hashr's commands end to end as testscript scripts
// (testdata/*.txtar): every command is registered here and runs in-process
// under its own name, so pipelines chain in a script just as in a shell.
package cli_test

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// commands maps each command name to its entry point. Each stage's file in
// this package adds its own in an init function.
var commands = map[string]func(){}

// register adds a command whose Main has the signature every stage's has.
func register(name string, main func(args []string, stdin io.Reader, stdout, stderr io.Writer) int) {
	commands[name] = func() { os.Exit(main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
}

func TestMain(m *testing.M) { testscript.Main(m, commands) }

func TestScripts(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	repoRoot := filepath.Join(filepath.Dir(here), "..", "..")
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// Scripts reach the committed fixtures as $TESTDATA.
			env.Setenv("TESTDATA", filepath.Join(repoRoot, "testdata"))
			// Default directories (spool, work, store) inside the script's
			// own: testscript's HOME (/no-home) has none.
			env.Setenv("XDG_CACHE_HOME", filepath.Join(env.WorkDir, ".cache"))
			return nil
		},
	})
}
