package extract

import "github.com/hashr-dev/hashr/internal/sandbox"

// SandboxChildEnv is sandbox.ChildEnv, for a test binary that calls Main
// in-process: the sandbox's children are that binary, run with this
// variable set to "1", and it must then run Main (before its tests).
const SandboxChildEnv = sandbox.ChildEnv
