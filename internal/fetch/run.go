package fetch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/formats/oci"
	"github.com/hashr-dev/hashr/internal/ordered"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/pkg/records"
)

// outcome is what became of one input record.
type outcome struct {
	raw  *records.Raw
	src  *records.Source // the fetched source; nil when raw passes through
	fail *records.Error  // written instead of a source that failed
	err  error           // why it failed, for stderr
	// end closes a refused source: src, fail and end are written, in
	// that order (records.Refuse).
	end *records.End
}

// run fetches the sources of the input records in parallel and writes the
// records in input order.
func run(ctx context.Context, p *cli.Program, opts options) error {
	temps := newTempFiles()
	p.OnExit(temps.removeAll)
	defer p.RouteClientLog()()
	fetchers, err := newFetchers(opts, temps, p.Verbosef)
	if err != nil {
		return err
	}
	defer closeIdle(fetchers)
	prov := &provenance{mode: opts.verifyMode, sigs: opts.sigs}
	e := &emitter{p: p, w: records.NewWriter(p.Stdout), hinted: map[string]bool{}}
	in := &input{}
	// Map returns once the fetches under way have ended, and starts none
	// after an interruption, so their temporary files are gone by then.
	work := func(raw *records.Raw) outcome { return fetchRecord(ctx, fetchers, prov, raw) }
	err = ordered.Map(ctx, opts.workers, in.records(ctx, p, opts.inputs), work, e.emit)
	err = errors.Join(err, e.w.Flush())
	if readErr := in.err(); readErr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return readErr
	}
	return err
}

// input is the records read, and the failure that ended reading them.
type input struct {
	mu      sync.Mutex
	readErr error
}

func (in *input) records(ctx context.Context, p *cli.Program, names []string) iter.Seq[*records.Raw] {
	return func(yield func(*records.Raw) bool) {
		for raw, err := range p.Records(ctx, names) {
			if err != nil {
				in.mu.Lock()
				in.readErr = err
				in.mu.Unlock()
				return
			}
			if !yield(raw) {
				return
			}
		}
	}
}

func (in *input) err() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.readErr
}

// emitter writes the outcomes in input order, saying each failure (and
// each hint once).
type emitter struct {
	p      *cli.Program
	w      *records.Writer
	hinted map[string]bool
}

func (e *emitter) emit(o outcome) error {
	switch {
	case o.fail != nil && o.end != nil:
		e.sayFailure(o)
		for _, rec := range []records.Record{o.src, o.fail, o.end} {
			if err := e.w.Write(rec); err != nil {
				return err
			}
		}
		return nil
	case o.fail != nil:
		e.sayFailure(o)
		return e.w.Write(o.fail)
	case o.src != nil:
		e.p.Verbosef("%s: %s", o.src.URI, o.src.Local)
		return e.w.Write(o.src)
	default:
		return e.w.WriteRaw(o.raw)
	}
}

func (e *emitter) sayFailure(o outcome) {
	p := e.p
	var lineErr *records.LineError
	switch {
	case errors.As(o.err, &lineErr):
		p.Failf("%v", o.err) // it names the line already
	case o.fail.ID != "":
		p.Failf("%s: %v", o.fail.ID, o.err)
	default:
		p.Failf("%s: %v", o.raw.Where, o.err)
	}
	if hint := hintFor(o.err); hint != "" && !e.hinted[hint] {
		e.hinted[hint] = true
		p.Hint("%s", hint)
	}
}

// fetchRecord fetches the source a record describes, then names and
// verifies it from its bytes (prov); other records pass through.
func fetchRecord(ctx context.Context, fetchers map[string]fetcher, prov *provenance, raw *records.Raw) outcome {
	if raw.Type != records.TypeSource {
		return outcome{raw: raw}
	}
	rec, err := raw.Decode()
	if err != nil {
		return failed(raw, looseSource(raw), err)
	}
	src := rec.(*records.Source)
	if err := src.Validate(); err != nil {
		// A record no stage could use is a bad input line, and says where.
		return failed(raw, src, &records.LineError{Where: raw.Where, Err: err})
	}
	if src.Refused {
		return outcome{raw: raw} // its bytes are not to be read, nor downloaded
	}
	loc, err := src.Location()
	if err != nil {
		return failed(raw, src, err)
	}
	uri := cmp.Or(src.URI, src.Local) // a source already on disk may have no uri
	f, ok := fetchers[loc.Scheme]
	if !ok {
		return failed(raw, src, unsupportedScheme(loc.Scheme))
	}
	got, err := f.fetch(ctx, loc, expected{uri: uri, size: src.Size, sha256: src.SHA256})
	if err != nil {
		return failedFetch(raw, src, err)
	}
	src.Local, src.SHA256 = got.local, got.sha256
	if loc.Scheme == "oci" {
		namePlatform(src)
	}
	if src.Size == nil {
		src.Size = records.Int64(got.size)
	}
	if len(src.Parts) > 0 {
		if src.Parts, err = fetchParts(ctx, fetchers["file"], src.Parts); err != nil {
			return failed(raw, src, err)
		}
	}
	if err := prov.add(src, loc.Scheme); err != nil {
		return refusedDownload(raw, src, err)
	}
	return outcome{raw: raw, src: src}
}

// namePlatform gives a registry image's package (hashr-scan's, from its
// reference) the platform of the image fetched, which scan's HEAD
// request cannot tell; an index of several platforms names none.
func namePlatform(src *records.Source) {
	if src.Package == nil || src.Package.Arch != "" {
		return
	}
	if imgs, err := oci.LayoutImages(src.Local); err == nil && len(imgs) == 1 {
		src.Package.Arch, src.Package.OS = imgs[0].Platform, oci.PlatformOS(imgs[0].Platform)
	}
}

// fetchParts makes a split WIM's other parts local as the source is:
// read where they are (checked to be regular files, not read: no record
// holds their digest, and hashr-extract reads them all), or with --copy
// always copied into the work directory, parts then naming the copies. hashr-scan finds split WIMs
// on local file systems only, so a part is a local path.
func fetchParts(ctx context.Context, local fetcher, parts []string) ([]string, error) {
	out := make([]string, len(parts))
	for i, part := range parts {
		loc, err := records.Locate(part)
		if err == nil && loc.Scheme != "file" {
			err = fmt.Errorf("it is not a local path: the parts of a split WIM are read from local files")
		}
		var got fetched
		if err == nil {
			got, err = local.fetch(ctx, loc, expected{uri: part, placeOnly: true})
		}
		if err != nil {
			return nil, fmt.Errorf("fetching the split WIM's part %q: %w", part, err)
		}
		out[i] = got.local
	}
	return out, nil
}

// failed is the outcome of a source that could not be fetched: an error
// record naming it takes its place.
func failed(raw *records.Raw, src *records.Source, err error) outcome {
	source := src.URI
	if source == "" {
		source = src.Local
	}
	return outcome{raw: raw, err: err, fail: &records.Error{
		Stage:   "fetch",
		Source:  source,
		ID:      src.ID,
		URI:     src.URI,
		Message: err.Error(),
	}}
}

// failedFetch is the outcome of a source whose bytes could not be
// fetched: a refused source when they are not the ones a signed index
// vouched for (its verified said ok), so the set records it; else an
// error record in its place.
func failedFetch(raw *records.Raw, src *records.Source, err error) outcome {
	if !errors.Is(err, errMismatch) || src.Verified == nil || !src.Verified.OK {
		return failed(raw, src, err)
	}
	var digest *sha256Mismatch
	src.SHA256 = ""
	if errors.As(err, &digest) {
		src.SHA256 = digest.got // the bytes refused
	}
	fail, end := records.Refuse(src, "fetch", src.Verified.By, src.Verified.Signer, err)
	return outcome{raw: raw, src: src, fail: fail, end: end, err: err}
}

// refusedDownload is the outcome of a downloaded source whose own
// signature failed, or that --verify require found unverified: a refused
// source (records.Refuse) with the sha256 of the bytes refused, as
// hashr-scan refuses a local one, so the set records it and its failed
// job. provenance.add has removed the download; stderr says so.
func refusedDownload(raw *records.Raw, src *records.Source, err error) outcome {
	removed := src.Local
	fail, end := records.Refuse(src, "fetch", verify.RefusedBy(err), "", err)
	return outcome{raw: raw, src: src, fail: fail, end: end, err: fmt.Errorf("%w; removed %s", err, removed)}
}

// looseSource picks whatever id and uri it can out of a source record that
// does not decode, so its error record still says which source it was.
func looseSource(raw *records.Raw) *records.Source {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(raw.Line, &fields)
	var src records.Source
	_ = json.Unmarshal(fields["id"], &src.ID)
	_ = json.Unmarshal(fields["uri"], &src.URI)
	return &src
}

// closeIdle closes the fetchers' idle keep-alive connections, so no server
// can write on one (and have the client log it) after the run.
func closeIdle(fetchers map[string]fetcher) {
	for _, f := range fetchers {
		if c, ok := f.(interface{ closeIdle() }); ok {
			c.closeIdle()
		}
	}
}

// hintFor says how to get past an error, where that is not obvious.
func hintFor(err error) string {
	var scheme unsupportedScheme
	var link *linkError
	switch {
	case errors.As(err, &link):
		return "something other than hashr-fetch put that link in the work directory: remove it, and let no one else write to --work"
	case errors.Is(err, errDownloadsOff):
		return "run without --copy never to download remote sources, or download them yourself and give their local paths as uri"
	case errors.As(err, &scheme):
		return "hashr-fetch handles absolute paths and file://, http(s)://, s3://, gs:// and oci:// URIs; download other sources yourself and give their local paths as uri"
	case errors.Is(err, errMismatch):
		return "the source changed since it was scanned, or the record is wrong: scan it again"
	}
	return ""
}
