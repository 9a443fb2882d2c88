//go:build unix

package db

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkLookupSHA256 times one batch of 1000 sha256 keys, half of them
// known, against 100,000 samples in 500 sources in SQLite: the query of
// hashr-lookup's per-key lookup, without the hashing around it.
func BenchmarkLookupSHA256(b *testing.B) {
	const sources, perSource, batch = 500, 200, 1000
	ctx := context.Background()
	loc := Location{Driver: SQLite, Target: filepath.Join(b.TempDir(), "hashr.db")}
	l, err := Open(ctx, loc, Options{RetryFor: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	key := benchKey
	var batchSources []*Source
	for s := range sources {
		rows := NewFileRows(perSource+1, func() (string, error) { return b.TempDir(), nil })
		for f := range perSource {
			if err := rows.Add(File{SHA256: key(s*perSource + f), Size: 10, Path: fmt.Sprintf("usr/lib/f%d", f)}); err != nil {
				b.Fatal(err)
			}
		}
		sha := key(-1 - s)
		batchSources = append(batchSources, &Source{SHA256: sha, QuickSHA256: sha, ID: fmt.Sprintf("pkg%d.deb", s), Repo: "deb",
			Files: rows, Job: Job{Status: StatusDone, FilesExtracted: perSource, FilesLoaded: perSource}})
	}
	if _, err := l.Load(ctx, batchSources); err != nil {
		b.Fatal(err)
	}
	l.Close()
	r, err := OpenReader(ctx, loc)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	keys := make([][]byte, batch)
	for i := range keys {
		if i%2 == 0 {
			keys[i] = key(i * 97 % (sources * perSource))
		} else {
			keys[i] = key(sources*perSource + i)
		}
	}
	if found, err := r.Lookup(ctx, BySHA256, keys); err != nil || len(found) != batch/2 {
		b.Fatalf("found %d of %d, %v", len(found), batch/2, err)
	}
	// The machine is shared: processor time per lookup is reported
	// beside wall time, which others' load inflates. Uncapped and with
	// hashr-lookup's default cap, which costs the query its window.
	for _, maxSources := range []int{0, DefaultMaxSources} {
		b.Run(fmt.Sprintf("max-sources=%d", maxSources), func(b *testing.B) {
			r.MaxSources = maxSources
			before := cpuTime()
			for b.Loop() {
				if _, err := r.Lookup(ctx, BySHA256, keys); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// benchKey is the i-th key of BenchmarkLookupSHA256: a SHA-256 of i.
func benchKey(i int) []byte {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(i))
	s := sha256.Sum256(n[:])
	return s[:]
}

// cpuTime is the processor time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
