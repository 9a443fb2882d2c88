package db

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// BenchmarkServeBulk is hashr-serve's bulk of 1,000 SHA-1s (ServeLookup)
// over a PostgreSQL set of 20,000 samples in 20 sources, shaped as
// bench/servescale's (one path a sample): its allocations a bulk
// (-benchmem) are the figure to compare; its times are the shared
// machine's.
func BenchmarkServeBulk(b *testing.B) {
	const sources, perSource, bulk = 20, 1000, 1000
	ctx := context.Background()
	loc, digests := loadServeBench(b, sources, perSource)
	r, err := OpenReader(ctx, loc)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	rnd := rand.New(rand.NewPCG(1, 2))
	bulks := make([][][]byte, 20)
	for i := range bulks {
		for _, n := range rnd.Perm(sources * perSource)[:bulk] {
			bulks[i] = append(bulks[i], digests(n).SHA1)
		}
	}
	for _, keys := range bulks { // the sources cached, the statement prepared
		if found, err := r.ServeLookup(ctx, BySHA1, keys); err != nil || len(found) != bulk {
			b.Fatalf("found %d of %d, %v", len(found), bulk, err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := r.ServeLookup(ctx, BySHA1, bulks[i%len(bulks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// loadServeBench loads BenchmarkServeBulk's set into a new PostgreSQL
// database: sample i is the content "serve-scale sample I", digests(i)
// its file.
func loadServeBench(b *testing.B, sources, perSource int) (Location, func(int) File) {
	ctx := context.Background()
	url := pgtest.Start(b).NewDatabase(b)
	loc, err := ParseLocation(url)
	if err != nil {
		b.Fatal(err)
	}
	l, err := Open(ctx, loc, Options{RetryFor: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	var all []*Source
	digests := func(i int) File {
		c := fmt.Sprintf("serve-scale sample %d", i)
		s256, s1, m5 := sha256.Sum256([]byte(c)), sha1.Sum([]byte(c)), md5.Sum([]byte(c))
		return File{SHA256: s256[:], SHA1: s1[:], MD5: m5[:], Size: int64(len(c)), MIME: "application/x-sharedlib"}
	}
	for s := range sources {
		rows := NewFileRows(perSource+1, func() (string, error) { return b.TempDir(), nil })
		id := fmt.Sprintf("package-%07d_1.0-1_amd64.deb", s)
		for i := s * perSource; i < (s+1)*perSource; i++ {
			f := digests(i)
			f.Path = fmt.Sprintf("usr/lib/%s/dir%02d/file-%07d.so", id[:15], i%7, i)
			if err := rows.Add(f); err != nil {
				b.Fatal(err)
			}
		}
		sha := sha256.Sum256([]byte("source " + id))
		all = append(all, &Source{SHA256: sha[:], QuickSHA256: sha[:], ID: id, Repo: "scale", Files: rows,
			Job: Job{Status: StatusDone, FilesExtracted: int64(perSource), FilesLoaded: int64(perSource)}})
	}
	if _, err := l.Load(ctx, all); err != nil {
		b.Fatal(err)
	}
	l.Close()
	return loc, digests
}
