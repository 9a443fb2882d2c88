package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/hashr-dev/hashr/internal/load"
)

// A load into a database that is not empty (-preload): before each timed
// run the database holds a first slice, other sources with a share of the
// stream's samples, and COPY's run writes only the rows hashr-load added
// to it.

// generatePreload returns, for each source of the stream, another source
// holding each of its file records' samples with probability share.
func generatePreload(stream []benchSource, share float64) []benchSource {
	r := rand.New(rand.NewPCG(7, 7))
	out := make([]benchSource, len(stream))
	for i, s := range stream {
		p := &out[i]
		p.id = "earlier-" + s.id
		p.sha256 = makeSample("source " + p.id).sha256
		p.quick = makeSample("quick " + p.id).sha256
		for j, f := range s.samples {
			if r.Float64() < share {
				p.paths, p.samples = append(p.paths, "earlier/"+s.paths[j]), append(p.samples, f)
			}
		}
	}
	return out
}

// preloadInto loads the first slice into url (untimed); nothing when there
// is none.
func preloadInto(url string, preload []byte) error {
	if preload == nil {
		return nil
	}
	var stderr bytes.Buffer
	if status := load.Main([]string{"--db", url, "--quiet"}, bytes.NewReader(preload), io.Discard, &stderr); status != 0 {
		return fmt.Errorf("loading the first slice: exit %d: %s", status, stderr.String())
	}
	return nil
}

// copyTuples splits a binary COPY dump into its header and its rows.
func copyTuples(dump []byte) (header []byte, rows [][]byte, err error) {
	const fixed = 11 + 4 + 4 // signature, flags, header extension length
	if len(dump) < fixed {
		return nil, nil, fmt.Errorf("binary COPY dump of %d bytes: no header", len(dump))
	}
	at := fixed + int(binary.BigEndian.Uint32(dump[15:19]))
	header = dump[:at]
	for at+2 <= len(dump) {
		start := at
		fields := int16(binary.BigEndian.Uint16(dump[at:]))
		if fields == -1 {
			return header, rows, nil
		}
		at += 2
		for range fields {
			if at+4 > len(dump) {
				return nil, nil, fmt.Errorf("binary COPY dump truncated at byte %d", at)
			}
			n := int32(binary.BigEndian.Uint32(dump[at:]))
			at += 4
			if n > 0 {
				at += int(n)
			}
		}
		rows = append(rows, dump[start:at])
	}
	return nil, nil, fmt.Errorf("binary COPY dump of %d bytes: no trailer", len(dump))
}

// addedRows returns, per table, a binary COPY dump of the rows of after
// that before does not hold.
func addedRows(before, after map[string][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	for t, dump := range after {
		_, old, err := copyTuples(before[t])
		if err != nil {
			return nil, fmt.Errorf("%s before: %w", t, err)
		}
		header, rows, err := copyTuples(dump)
		if err != nil {
			return nil, fmt.Errorf("%s after: %w", t, err)
		}
		held := map[string]bool{}
		for _, r := range old {
			held[string(r)] = true
		}
		buf := bytes.Clone(header)
		for _, r := range rows {
			if !held[string(r)] {
				buf = append(buf, r...)
			}
		}
		out[t] = append(buf, 0xff, 0xff)
	}
	return out, nil
}
