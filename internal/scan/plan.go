package scan

import (
	"bytes"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

// maxHeld bounds the records held back for the plan: 32 MiB is about
// 90,000 source records of a local directory (360 bytes each for 50,000
// files in a mirror-like tree; hashr-scan's peak RSS 55 MB, against 22 MB
// with --plan=false). A scan that finds more writes them as it goes,
// without a plan.
const maxHeld = 32 << 20

// heldChunk is the size of the blocks records are held in: blocks, not
// one buffer that doubles, so that holding N bytes takes N, not up to 2N
// and a copy.
const heldChunk = 1 << 20

// plannedOutput writes hashr-scan's records. With --plan it holds them
// back until the scan is done, so that a plan record with the number of
// sources and their total size can go before them: the stage that draws
// the pipeline's progress line counts against it and says how long is
// left. Holding back costs the stages downstream the wait for the scan,
// which reads little of each source (quick_sha256 reads 20 MiB at most).
type plannedOutput struct {
	p     *cli.Program
	w     *records.Writer
	hold  bool
	limit int      // maxHeld; smaller in tests
	held  [][]byte // whole records, each ending in a newline
	size  int      // bytes held
	plan  records.Plan
	meter *cli.Meter
}

func newPlannedOutput(p *cli.Program, plan bool) *plannedOutput {
	o := &plannedOutput{p: p, w: records.NewWriter(p.Stdout), hold: plan, limit: maxHeld, meter: p.Meter()}
	o.meter.CountsItself() // what it holds back is counted when found
	return o
}

// Write writes or holds one record.
func (o *plannedOutput) Write(rec records.Record) error {
	if src, ok := rec.(*records.Source); ok {
		var size int64
		if src.Size != nil {
			size = *src.Size
		}
		o.plan.Sources++
		o.plan.Bytes += size
		o.meter.Source(size)
		o.meter.End()
	}
	if !o.hold {
		return o.w.Write(rec)
	}
	line, err := records.Marshal(rec)
	if err != nil {
		return err
	}
	if o.size+len(line)+1 > o.limit {
		o.p.Verbosef("more than %d MiB of records: writing them as they are found, without a plan record (the progress line shows no totals)", o.limit>>20)
		o.hold = false
		if err := o.release(); err != nil {
			return err
		}
		return o.w.Write(rec)
	}
	last := len(o.held) - 1
	if last < 0 || len(o.held[last])+len(line)+1 > cap(o.held[last]) {
		o.held = append(o.held, make([]byte, 0, max(heldChunk, len(line)+1)))
		last++
	}
	o.held[last] = append(append(o.held[last], line...), '\n')
	o.size += len(line) + 1
	return nil
}

// Finish writes the plan and the records held back for it, once the scan
// is done.
func (o *plannedOutput) Finish() error {
	if o.hold {
		o.hold = false
		if err := o.w.Write(&o.plan); err != nil {
			return err
		}
		if err := o.release(); err != nil {
			return err
		}
	}
	return o.w.Flush()
}

// release writes the records held back.
func (o *plannedOutput) release() error {
	for i, chunk := range o.held {
		for line := range bytes.Lines(chunk) {
			if err := o.w.WriteRaw(&records.Raw{Line: bytes.TrimSuffix(line, []byte{'\n'})}); err != nil {
				return err
			}
		}
		o.held[i] = nil // written: its memory may go
	}
	o.held, o.size = nil, 0
	return nil
}
