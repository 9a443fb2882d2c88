package oci

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Options say how to walk an image.
type Options struct {
	// Flatten walks only the files of each image's final file system:
	// layers applied in order, whiteouts and opaque directories honoured,
	// hard links resolved. Without it every file of every layer is walked,
	// as <layer-digest>/<path> (what HashR's GCR importer hashed).
	Flatten bool
	// Platform keeps only the images of that platform ("linux/arm64");
	// nil walks every platform of a multi-platform index.
	Platform *v1.Platform
	// Meter is told of the layers' decompressed bytes.
	Meter archive.Meter
}

// NewWalker walks the image in r, an OCI layout tar or a docker archive
// of size bytes.
func NewWalker(r io.ReaderAt, size int64, format Format, opts Options) (*Walker, error) {
	s, err := newTarStore(r, size)
	if err != nil {
		return nil, err
	}
	return newWalker(s, format, opts, nil)
}

// NewDirWalker walks the OCI image layout in the directory dir.
func NewDirWalker(dir string, opts Options) (*Walker, error) {
	s, err := newDirStore(dir)
	if err != nil {
		return nil, err
	}
	w, err := newWalker(s, Layout, opts, s.Close)
	if err != nil {
		s.Close()
	}
	return w, err
}

// Walker walks the files of a container image; it implements
// archive.Walker. Paths are <layer-digest>/<path>, or with Flatten the
// final file system's paths, under <platform>/ (or <manifest-digest>/)
// when the source holds more than one image.
type Walker struct {
	store   blobStore
	opts    Options
	release func() error

	imgs   []image
	labels []string
	next   int // the next image (Flatten) or layer (default) to open

	cur     *openLayer
	curIdx  int // the layer's index in its image (Flatten)
	ordinal int // entries of the current layer read so far
	pending []*archive.Entry
	fromTar bool // the entry last returned is the current tar entry

	// default mode
	layers      []layer
	layerFiles  map[string]bool   // regular files of the current layer
	lastLayerOf map[string]string // path -> the last layer digest holding it as a file

	// Flatten mode
	plan   *plan
	prefix string
}

func newWalker(s blobStore, format Format, opts Options, release func() error) (*Walker, error) {
	imgs, err := images(s, format, opts.Platform)
	if err != nil {
		return nil, err
	}
	w := &Walker{store: s, opts: opts, release: release, imgs: imgs, labels: labels(imgs)}
	if !opts.Flatten {
		seen := map[v1.Hash]bool{}
		for _, img := range imgs {
			for _, l := range img.layers {
				if !seen[l.digest] {
					seen[l.digest] = true
					w.layers = append(w.layers, l)
				}
			}
		}
		w.lastLayerOf = map[string]string{}
	}
	return w, nil
}

// Images says how many images the walk covers.
func (w *Walker) Images() int { return len(w.imgs) }

// Next implements archive.Walker.
func (w *Walker) Next() (*archive.Entry, error) {
	w.fromTar = false
	for {
		if len(w.pending) > 0 {
			e := w.pending[0]
			w.pending = w.pending[1:]
			return e, nil
		}
		if w.cur == nil {
			more, err := w.advance()
			if err != nil || !more {
				if err == nil {
					err = io.EOF
				}
				return nil, err
			}
			continue
		}
		e, err := w.cur.tar.Next()
		if err == io.EOF {
			err = w.cur.finish()
			w.closeLayer()
			if err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", w.cur.l.digest, err)
		}
		ord := w.ordinal
		w.ordinal++
		var out *archive.Entry
		if w.opts.Flatten {
			out = w.flatEntry(ord)
		} else {
			out = w.layerEntry(e)
		}
		if out != nil {
			w.fromTar = out.Type == archive.Regular
			return out, nil
		}
	}
}

// Open implements archive.Walker.
func (w *Walker) Open() (io.Reader, error) {
	if !w.fromTar || w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	return w.cur.tar.Open()
}

// Close implements archive.Closer.
func (w *Walker) Close() error {
	w.closeLayer()
	if w.release != nil {
		err := w.release()
		w.release = nil
		return err
	}
	return nil
}

func (w *Walker) closeLayer() {
	if w.cur != nil {
		w.cur.close()
		w.cur = nil
	}
}

// advance opens the next layer to read; false when there is none.
func (w *Walker) advance() (bool, error) {
	if !w.opts.Flatten {
		if w.next >= len(w.layers) {
			return false, nil
		}
		l := w.layers[w.next]
		w.next++
		return true, w.open(l)
	}
	for {
		if w.plan != nil {
			for w.curIdx < len(w.plan.img.layers) {
				i := w.curIdx
				w.curIdx++
				if len(w.plan.content[i]) > 0 {
					return true, w.open(w.plan.img.layers[i])
				}
			}
			w.plan = nil
		}
		if w.next >= len(w.imgs) {
			return false, nil
		}
		img := w.imgs[w.next]
		w.prefix = ""
		if l := w.labels[w.next]; l != "" {
			w.prefix = l + "/"
		}
		w.next++
		p, err := buildPlan(w.store, img, w.opts.Meter, w.prefix)
		if err != nil {
			return false, err
		}
		w.plan, w.curIdx = p, 0
		w.pending = append(w.pending, p.problems...)
		if len(w.pending) > 0 {
			return true, nil
		}
	}
}

func (w *Walker) open(l layer) error {
	ol, err := openLayerOf(w.store, l, w.opts.Meter)
	if err != nil {
		return err
	}
	w.cur, w.ordinal = ol, 0
	w.layerFiles = map[string]bool{}
	return nil
}

// layerEntry names a member of a layer <layer-digest>/<path>; whiteouts,
// which are marks rather than files, are left out.
func (w *Walker) layerEntry(e *archive.Entry) *archive.Entry {
	p, ok := layerPath(e.Name)
	if !ok {
		out := *e
		out.Name = p // climbs out: the caller refuses it as stored
		return &out
	}
	if p == "" {
		return nil
	}
	if kind, _ := whiteout(p); kind != notWhiteout {
		return nil
	}
	d := w.cur.l.digest.String()
	out := *e
	out.Name = d + "/" + p
	switch e.Type {
	case archive.Regular:
		w.layerFiles[p], w.lastLayerOf[p] = true, d
	case archive.Hardlink:
		t, ok := layerPath(e.Linkname)
		out.Linkname = d + "/" + t
		if !ok {
			out.Linkname = t // climbs out: the caller refuses it as stored
		}
		if ok && !w.layerFiles[t] {
			// A hard link into a lower layer, as overlay snapshotters
			// write them: its bytes are that layer's file.
			if lower, found := w.lastLayerOf[t]; found {
				out.Linkname = lower + "/" + t
			}
		}
		if ok {
			w.layerFiles[p] = true
			w.lastLayerOf[p] = d
		}
	}
	return &out
}

// flatEntry emits a member of the current layer when the final file
// system has it, under every name it has there: the first as the file,
// the others as hard links to it.
func (w *Walker) flatEntry(ord int) *archive.Entry {
	paths := w.plan.content[w.curIdx-1][ord]
	if len(paths) == 0 {
		if ord >= w.plan.last[w.curIdx-1] {
			// Nothing more of this layer is wanted; its digest was
			// checked when the plan was made.
			w.closeLayer()
		}
		return nil
	}
	first := w.prefix + paths[0]
	e := w.plan.entries[contentKey{w.curIdx - 1, ord}]
	out := &archive.Entry{Name: first, Type: archive.Regular, Size: e.Size, Mode: e.Mode, ModeKnown: e.ModeKnown, ModTime: e.ModTime}
	for _, p := range paths[1:] {
		w.pending = append(w.pending, &archive.Entry{Name: w.prefix + p, Type: archive.Hardlink, Size: -1,
			Mode: e.Mode, ModeKnown: e.ModeKnown, ModTime: e.ModTime, Linkname: first})
	}
	return out
}
