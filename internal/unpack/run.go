package unpack

import (
	"context"
	"os"

	"github.com/hashr-dev/hashr/pkg/records"
)

// A Walker walks a source Run has prepared, adding its records to the
// job's Sink and their counts to its Counts: InProcess walks it in this
// process; hashr-extract's sandboxed walker ships it to a sandbox child,
// which walks it InProcess.
type Walker interface {
	Walk(j *Job)
}

// Job is the extraction of one source, whichever Walker walks it.
type Job struct {
	Ctx  context.Context
	Src  *records.Source
	Sink Sink // takes the source's records
	Log  Log  // takes a failure of the source as a whole
	// ClaimSpool gives the source's spool directory once its sha256 is
	// known; nil when nothing is spooled (--hash).
	ClaimSpool func(sha256 string) (*Spool, error)

	// What Run prepares: the source's open file and size, or its OCI
	// layout directory; and its spool directory.
	File  *os.File
	Size  int64
	Dir   string
	Spool *Spool

	Counts Counts // of the records the walker added
	Fatal  error  // records could not be kept: the run ends
}

// Run prepares the job's source (opened, when not nil, is its file
// already open), walks it with w, closes it and returns its end record:
// the one way hashr-extract, in-process or sandboxed, and a sandbox
// child extract a source.
func Run(j *Job, w Walker, opened *os.File) *records.End {
	if j.prepare(opened) {
		w.Walk(j)
		if j.File != nil {
			j.File.Close()
		}
	}
	return &records.End{Source: j.Src.SHA256, Files: j.Counts.Files, Errors: j.Counts.Errors, Bytes: j.Counts.Bytes}
}

// prepare opens the source (opened, when not nil, is its file already
// open), or identifies its OCI layout directory, and claims its spool
// directory. Reading the source to hash it, when its sha256 is not
// known, is no parsing: hashr-extract does it before a sandbox child
// runs, to name the spool directory. A failure is the source's error
// record.
func (j *Job) prepare(opened *os.File) bool {
	var err error
	if dir, ok := LayoutDir(j.Src); ok {
		j.Dir, err = dir, IdentifyLayout(dir, j.Src)
	} else {
		j.File, j.Size, err = Open(j.Ctx, j.Src, opened)
	}
	if err == nil && j.ClaimSpool != nil {
		j.Spool, err = j.ClaimSpool(j.Src.SHA256)
	}
	if err != nil {
		if j.File != nil {
			j.File.Close()
		}
		j.Fail(err)
		return false
	}
	return true
}

// Fail reports a failure of the source as a whole: a message, and the
// source's error record.
func (j *Job) Fail(err error) {
	if j.Ctx.Err() != nil {
		return // interrupted: nothing of this source is written
	}
	j.Counts.Errors++
	j.Log.Failf("%s: %v", Label(j.Src), err)
	if j.Fatal == nil {
		j.Fatal = j.Sink.Add(ErrorRecord(j.Src, "", err))
	}
}

// InProcess walks sources in this process, with Options whose Spool is
// each job's: with --no-sandbox, and in a sandbox child.
type InProcess struct {
	Options Options
}

// Walk walks the prepared source of j.
func (ip InProcess) Walk(j *Job) {
	opts := ip.Options
	opts.Spool = j.Spool
	var c Counts
	if j.Dir != "" {
		c, j.Fatal = Layout(j.Ctx, j.Dir, j.Src, opts, j.Sink)
	} else {
		c, j.Fatal = Source(j.Ctx, j.File, j.Size, j.Src, opts, j.Sink)
	}
	j.Counts.Files += c.Files
	j.Counts.Errors += c.Errors
	j.Counts.Bytes += c.Bytes
}
