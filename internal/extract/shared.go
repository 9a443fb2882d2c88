package extract

// Shared sandbox children. Starting a child costs about 35 ms of CPU on
// the 2-CPU machine bench/ runs on (exec of a 12 MB Go program, its
// runtime and its page faults): as much as extracting a small package,
// and 10% of extracting the 31 packages of bench/extract.sh. So one child
// parses up to --sandbox-sources sources in turn. The parent hands it
// each source as an open file over a socket (SCM_RIGHTS): the child's
// Landlock rules name no source, so it reads only the files it is handed.
// It writes only its own temporary directory: in spool mode it spools a
// source into a fresh directory there, which the parent moves into place
// (and whose "local" paths it rewrites) once the source is done and its
// records checked.
//
// What a shared child gives up is isolation between the sources it
// parses: one taken over by its input could falsify the records of the
// sources it parses next. --sandbox-sources 1 gives every source a child
// of its own. Any source not of the formats read entirely in Go from one
// file (the table's Shared trait) gets a child of its own too: disk images, Windows
// images and OCI layouts run programs on their path or open directories.
//
// A source that kills a shared child (a crash, a limit, a broken record)
// is parsed again in a child of its own before it counts as failed, so an
// earlier source that left a shared child in a bad state cannot fail the
// next one.

import (
	"os"

	"github.com/hashr-dev/hashr/internal/formats"
	"github.com/hashr-dev/hashr/internal/magic"
)

// defaultSandboxSources is how many sources a shared child parses before
// it is replaced: enough to make its start cost nothing (about 2 ms a
// source), few enough to bound what one child ever sees.
const defaultSandboxSources = 16

// sharable says whether the source in f can go to a shared child.
func (x *extractor) sharable(f *os.File, size int64) bool {
	if x.sandbox == nil || x.sandbox.Pool == nil {
		return false
	}
	res, err := magic.Detect(f, size)
	if err != nil {
		return false
	}
	if f := formats.Lookup(res.Format); f != nil && f.Shared {
		return true
	}
	return res.Format == "" && res.Compression != ""
}
