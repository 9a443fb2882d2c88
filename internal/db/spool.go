package db

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
)

// FileRows holds a source's file rows: in memory up to a limit, then
// spilled to a temporary file, so a source of millions of files needs
// disk, not RAM. The rows can be read any number of times, because a
// transaction that the server aborts is sent again.
type FileRows struct {
	// mem holds the rows in memory in chunks, each twice the one before
	// up to maxRowChunk, all but the last full: a row is never copied
	// once added. Grown as one slice by append, the copies each doubling
	// left behind were two fifths of hashr-load's bytes allocated per
	// record, garbage that at its GOGC stays in the heap until the next
	// collection and so in its peak RSS and page faults (load21i).
	mem      [][]File
	memRows  int
	memLimit int
	dir      func() (string, error)

	spill   *os.File
	w       *bufio.Writer
	enc     *gob.Encoder
	spilled int
}

// NewFileRows keeps up to memLimit rows in memory; beyond that it spills
// them to a file in the directory dir returns (called once, when needed).
func NewFileRows(memLimit int, dir func() (string, error)) *FileRows {
	return &FileRows{memLimit: max(memLimit, 1), dir: dir}
}

// Len is the number of rows added.
func (r *FileRows) Len() int { return r.spilled + r.memRows }

// The chunks of FileRows.mem: a source of one file takes a chunk of
// firstRowChunk rows, one of a million a chunk of a few thousand at a time.
const firstRowChunk, maxRowChunk = 4, 4096

// Add appends a row.
func (r *FileRows) Add(f File) error {
	n := len(r.mem)
	if n == 0 || len(r.mem[n-1]) == cap(r.mem[n-1]) {
		size := firstRowChunk
		if n > 0 {
			size = min(2*cap(r.mem[n-1]), maxRowChunk)
		}
		r.mem = append(r.mem, make([]File, 0, size))
		n++
	}
	r.mem[n-1] = append(r.mem[n-1], f)
	r.memRows++
	if r.memRows < r.memLimit {
		return nil
	}
	return r.spillMemory()
}

func (r *FileRows) spillMemory() error {
	if r.spill == nil {
		if r.dir == nil {
			return errors.New("spilling file rows: no directory for temporary files")
		}
		dir, err := r.dir()
		if err != nil {
			return fmt.Errorf("spilling file rows: %w", err)
		}
		f, err := os.CreateTemp(dir, "rows-*.gob")
		if err != nil {
			return fmt.Errorf("spilling file rows: %w", err)
		}
		r.spill = f
		r.w = bufio.NewWriterSize(f, 1<<20)
		r.enc = gob.NewEncoder(r.w)
	}
	for _, chunk := range r.mem {
		for i := range chunk {
			if err := r.enc.Encode(&chunk[i]); err != nil {
				return fmt.Errorf("spilling file rows to %s: %w", r.spill.Name(), err)
			}
		}
	}
	r.spilled += r.memRows
	// The largest chunk is kept for the rows that come next, emptied so
	// that the spilled rows' strings and digests are garbage now.
	last := r.mem[len(r.mem)-1]
	clear(last)
	clear(r.mem)
	r.mem, r.memRows = append(r.mem[:0], last[:0]), 0
	return nil
}

// All yields every row in the order added. Each *File is a row of its
// own, valid while r is open (a batch sorts them without copying them).
func (r *FileRows) All() iter.Seq2[*File, error] {
	return func(yield func(*File, error) bool) {
		if r.spilled > 0 {
			if err := r.w.Flush(); err != nil {
				yield(nil, fmt.Errorf("reading spilled file rows: %w", err))
				return
			}
			dec := gob.NewDecoder(bufio.NewReaderSize(io.NewSectionReader(r.spill, 0, 1<<62), 1<<20))
			for range r.spilled {
				var f File
				if err := dec.Decode(&f); err != nil {
					yield(nil, fmt.Errorf("reading spilled file rows from %s: %w", r.spill.Name(), err))
					return
				}
				if !yield(&f, nil) {
					return
				}
			}
		}
		for _, chunk := range r.mem {
			for i := range chunk {
				if !yield(&chunk[i], nil) {
					return
				}
			}
		}
	}
}

// Close drops the rows and removes the spill file.
func (r *FileRows) Close() error {
	r.mem, r.memRows = nil, 0
	if r.spill == nil {
		return nil
	}
	name := r.spill.Name()
	r.spill.Close()
	r.spill, r.w, r.enc = nil, nil, nil
	return os.Remove(name)
}
