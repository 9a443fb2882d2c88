package scan

import (
	"bytes"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

// maxHeld bounds the records held back for the plan: 64 MiB is about
// 180,000 source records of a local directory (about 360 bytes each).
// A scan that finds more writes them as it goes, without a plan.
const maxHeld = 64 << 20

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
	held  bytes.Buffer // whole records, each ending in a newline
	plan  records.Plan
	meter *cli.Meter
}

func newPlannedOutput(p *cli.Program, plan bool) *plannedOutput {
	o := &plannedOutput{p: p, w: records.NewWriter(p.Stdout), hold: plan, meter: p.Meter()}
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
	if o.held.Len()+len(line)+1 > maxHeld {
		o.p.Verbosef("more than %d MiB of records: writing them as they are found, without a plan record (the progress line shows no totals)", maxHeld>>20)
		o.hold = false
		if err := o.release(); err != nil {
			return err
		}
		return o.w.Write(rec)
	}
	o.held.Write(line)
	o.held.WriteByte('\n')
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
	for line := range bytes.Lines(o.held.Bytes()) {
		if err := o.w.WriteRaw(&records.Raw{Line: bytes.TrimSuffix(line, []byte{'\n'})}); err != nil {
			return err
		}
	}
	o.held = bytes.Buffer{}
	return nil
}
