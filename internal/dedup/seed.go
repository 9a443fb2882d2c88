package dedup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"

	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/store"
)

const seedLong = `
hashr-dedup seed adds known SHA-256 digests to the store in bulk, e.g. a
published known-good set or the hashes of an earlier run, so that later runs
mark those files seen. It reads the files named (stdin when there are none,
"-" too), one digest a line, in any of these forms:

  a bare digest:          64 hex digits (either case)
  sha256sum output:       DIGEST  NAME  (or DIGEST *NAME)
  BSD-style output:       SHA256 (NAME) = DIGEST
  hashdeep output:        CSV after a "%%%% size,md5,sha256,filename" header;
                          the sha256 column is found from the header

Blank lines and lines starting with "#" are skipped. A line with no valid
digest is reported with its file and line number, and the rest goes on
(exit status 3).

The digests are sorted (in runs of a million, spilled to a scratch directory
inside the store when there are more) and written as sorted tables that the
store ingests in one step: far faster than inserting them one at a time,
and all or nothing, so an interrupted seed adds nothing. A digest the store
already has keeps its first-seen time and source.`

const seedExample = `  # Seed the default store with the digests of a known-good image
  sha256sum /mnt/golden/usr/bin/* | hashr-dedup seed

  # Seed from hashdeep output and a plain list, into a given store
  hashr-dedup seed --store /var/lib/hashr/store golden.hashdeep known.txt

  # How many digests the store holds now
  hashr-dedup stats | jq .keys`

func newSeedCommand(p *cli.Program, storeDir *string) *cobra.Command {
	return &cobra.Command{
		Use:     "seed [flags] [FILE...]",
		Short:   "Add hash lists (hex SHA-256, sha256sum or hashdeep output) to the store in bulk",
		Long:    seedLongHelp(),
		Example: seedExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := resolveStoreDir(*storeDir)
			if err != nil {
				return err
			}
			return runSeed(cmd.Context(), p, dir, args)
		},
	}
}

func seedLongHelp() string { return seedLong[1:] + "\n\n" + cli.ExitCodesHelp }

func runSeed(ctx context.Context, p *cli.Program, dir string, inputs []string) error {
	defer boundHeap()()
	s, err := openStore(p, dir)
	if err != nil {
		return err
	}
	sd, err := s.NewSeeder(time.Now())
	if err != nil {
		return hintFor(p, err)
	}
	defer sd.Abort()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	var lines, bad int64
	for _, name := range inputs {
		in, display, closeIn, err := p.OpenInput(name)
		if err != nil {
			p.Failf("%v", err)
			continue
		}
		n, b, err := seedFrom(ctx, p, in, display, sd)
		closeIn()
		lines, bad = lines+n, bad+b
		if err != nil {
			return hintFor(p, err)
		}
	}
	st, err := sd.Finish(ctx)
	if err != nil {
		return hintFor(p, err)
	}
	p.Infof("seeded %d distinct digests (%d given, %d lines not digests) into %s", st.Distinct, st.Digests, bad, s.Dir())
	p.Verbosef("%d lines read, %d tables of %d MiB ingested", lines, st.Tables, st.Bytes>>20)
	return nil
}

// seedFrom adds the digests listed in one input.
func seedFrom(ctx context.Context, p *cli.Program, in io.Reader, name string, sd *store.Seeder) (lines, bad int64, err error) {
	r := records.NewLineReader(in, p.MaxLine)
	var list hashList
	for {
		text, rerr := r.Next()
		var tooLong *records.TooLongError
		if errors.As(rerr, &tooLong) {
			lines++
			bad++
			p.Failf("%s:%d: %v", name, r.Line(), rerr)
			continue
		}
		if rerr == nil {
			lines++
			if lines%(1<<16) == 0 && ctx.Err() != nil {
				return lines, bad, ctx.Err()
			}
			key, ok, perr := list.parse(text)
			switch {
			case perr != nil:
				bad++
				p.Failf("%s:%d: %v", name, lines, perr)
			case ok:
				if err := sd.Add(key); err != nil {
					return lines, bad, err
				}
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return lines, bad, nil
			}
			return lines, bad, fmt.Errorf("reading %s: %w", name, rerr)
		}
	}
}

// hashList reads the lines of one hash list; it remembers the columns a
// hashdeep header declares.
type hashList struct {
	hashdeep  bool
	sha256Col int // -1: the hashdeep header has no sha256 column
}

// parse returns the digest on a line, ok=false for a line that holds none
// by design (blank, comment, header), or an error.
func (h *hashList) parse(text []byte) (k store.Key, ok bool, err error) {
	text = bytes.TrimSpace(text)
	switch {
	case len(text) == 0 || text[0] == '#':
		return k, false, nil
	case bytes.HasPrefix(text, []byte("%%%%")):
		h.readHashdeepHeader(bytes.TrimSpace(text[4:]))
		return k, false, nil
	}
	var field []byte
	switch {
	case h.hashdeep:
		if h.sha256Col < 0 {
			return k, false, errors.New(`the hashdeep header has no sha256 column (run hashdeep with -c sha256)`)
		}
		fields := bytes.SplitN(text, []byte(","), h.sha256Col+2)
		if len(fields) <= h.sha256Col {
			return k, false, fmt.Errorf("hashdeep line %q has no column %d", text, h.sha256Col+1)
		}
		field = fields[h.sha256Col]
	case bytes.HasPrefix(text, []byte("SHA256 (")):
		i := bytes.LastIndex(text, []byte(") = "))
		if i < 0 {
			return k, false, fmt.Errorf("%q is not a SHA-256 line", text)
		}
		field = text[i+4:]
	default:
		// sha256sum: DIGEST, then two spaces or " *", then the name; a
		// leading backslash marks an escaped name.
		field = text
		if i := bytes.IndexAny(field, " \t"); i >= 0 {
			field = field[:i]
		}
		field = bytes.TrimPrefix(field, []byte(`\`))
	}
	k, ok = decodeHexAnyCase(field)
	if !ok {
		return k, false, fmt.Errorf("%q is not a SHA-256 (64 hex digits)", field)
	}
	return k, true, nil
}

func (h *hashList) readHashdeepHeader(spec []byte) {
	if !bytes.Contains(spec, []byte(",")) {
		return // "%%%% HASHDEEP-1.0"
	}
	h.hashdeep, h.sha256Col = true, -1
	for i, col := range bytes.Split(spec, []byte(",")) {
		if string(bytes.TrimSpace(col)) == "sha256" {
			h.sha256Col = i
		}
	}
}

// decodeHexAnyCase decodes 64 hex digits of either case: published hash
// sets are often upper case.
func decodeHexAnyCase(s []byte) (k store.Key, ok bool) {
	if len(s) != 2*store.KeySize {
		return k, false
	}
	var lower [2 * store.KeySize]byte
	for i, c := range s {
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return decodeHex(lower[:])
}
