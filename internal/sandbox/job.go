package sandbox

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/hashr-dev/hashr/internal/unpack"
)

// ChildEnv, set to "1", makes hashr-extract a sandbox child: it reads one
// Job on stdin, confines itself, extracts that one source (or, shared,
// the sources handed to it on SharedJobFD) and writes its records on
// stdout, each source's end record last.
const ChildEnv = "HASHR_EXTRACT_SANDBOX_CHILD"

// Exit statuses of a child that says itself why it stopped.
const (
	ExitSetup = 125 // the sandbox could not be set up
	ExitCPU   = 124 // SIGXCPU: the CPU time limit was reached
)

// SharedJobFD is the file descriptor of a shared child's socket.
const SharedJobFD = 3

// MaxSharedMessage bounds one source's job on the socket (a source record).
const MaxSharedMessage = 1 << 20

// Job is what a sandbox child is asked to do.
type Job struct {
	Source json.RawMessage `json:"source,omitempty"` // the source record, with sha256 and local
	// Shared: the sources come one by one on the socket at SharedJobFD,
	// each with its file, instead of Source (pool.go).
	Shared     bool   `json:"shared,omitempty"`
	Spool      string `json:"spool,omitempty"`
	Flatten    bool   `json:"flatten,omitempty"`
	Temp       string `json:"temp"`
	Algos      string `json:"algos,omitempty"`
	DebControl bool   `json:"deb_control,omitempty"`
	// SystemFiles and Platform are --system-files and --platform.
	SystemFiles bool          `json:"system_files,omitempty"`
	Platform    string        `json:"platform,omitempty"`
	Limits      unpack.Limits `json:"limits"`
	Memory      int64         `json:"memory"`      // bytes, --sandbox-memory
	CPUSeconds  int64         `json:"cpu_seconds"` // --sandbox-cpu; for a shared child, its whole life's
	// SourceCPUSeconds is a shared child's limit for each source.
	SourceCPUSeconds int64 `json:"source_cpu_seconds,omitempty"`
	Verbose          bool  `json:"verbose,omitempty"`
	Quiet            bool  `json:"quiet,omitempty"`

	// MaxDepth is --max-depth, as "auto" or a number of levels.
	MaxDepth unpack.Depth `json:"max_depth"`
	// VerifyMembers and Roots (PEM) are --verify-members and --roots.
	VerifyMembers bool   `json:"verify_members,omitempty"`
	Roots         string `json:"roots,omitempty"`
}

// SharedJob is what a shared child is sent for each source, with the
// source's file as the message's one file descriptor.
type SharedJob struct {
	Source json.RawMessage `json:"source"`
	Spool  string          `json:"spool,omitempty"` // where to spool it, in the child's temporary directory
}

// Confinement is what the child of job may do: read its source (or, in
// a shared child, none: they come open), write its spool and temporary
// directories, within the job's limits.
func (job *Job) Confinement() *Confinement {
	c := &Confinement{Shared: job.Shared, KeepFD: SharedJobFD,
		CPUSeconds: job.CPUSeconds, SourceCPUSeconds: job.SourceCPUSeconds,
		FileSize: max(job.Limits.SourceBytes, job.Limits.MemberBytes), Memory: job.Memory}
	var src struct {
		Local string   `json:"local"`
		Parts []string `json:"parts"` // of a split WIM, read as the source is
	}
	if err := json.Unmarshal(job.Source, &src); err == nil && !job.Shared {
		if st, err := os.Stat(src.Local); err == nil && st.IsDir() {
			c.ReadDir = src.Local
		} else {
			c.ReadFiles = append([]string{src.Local}, src.Parts...)
		}
	}
	for _, d := range []string{job.Spool, job.Temp} {
		if d != "" {
			c.Write = append(c.Write, d)
		}
	}
	return c
}

// Environment is what of this process's environment a child gets:
// what finding and running programs, and the Go runtime, need, and
// hashr-extract's own markers; not the credentials (AWS_*, PGPASSWORD,
// HASHR_DB…) a pipeline's environment often holds, which a parser taken
// over by its input could otherwise read.
func Environment() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "PATH", name == "LANG", name == "TZ", name == "TMPDIR",
			strings.HasPrefix(name, "LC_"), strings.HasPrefix(name, "GO"), strings.HasPrefix(name, "HASHR_EXTRACT_"):
			env = append(env, kv)
		}
	}
	return env
}
