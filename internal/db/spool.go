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
	mem      []File
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
func (r *FileRows) Len() int { return r.spilled + len(r.mem) }

// Add appends a row.
func (r *FileRows) Add(f File) error {
	r.mem = append(r.mem, f)
	if len(r.mem) < r.memLimit {
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
	for i := range r.mem {
		if err := r.enc.Encode(&r.mem[i]); err != nil {
			return fmt.Errorf("spilling file rows to %s: %w", r.spill.Name(), err)
		}
	}
	r.spilled += len(r.mem)
	r.mem = r.mem[:0]
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
		for i := range r.mem {
			if !yield(&r.mem[i], nil) {
				return
			}
		}
	}
}

// Close drops the rows and removes the spill file.
func (r *FileRows) Close() error {
	r.mem = nil
	if r.spill == nil {
		return nil
	}
	name := r.spill.Name()
	r.spill.Close()
	r.spill, r.w, r.enc = nil, nil, nil
	return os.Remove(name)
}
