package oci

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// maxTreeNodes bounds the file system model of one image: every path of
// every layer, a few hundred bytes each.
const maxTreeNodes = 4 << 20

// contentKey names the bytes of a regular file: the layer (by index in
// its image) and the entry (by position in that layer's tar) holding them.
type contentKey struct {
	layer, ordinal int
}

// plan is what the flattened walk of one image needs: for each layer
// entry whose bytes the final file system has, the paths they have there.
type plan struct {
	img      image
	content  []map[int][]string // per layer: ordinal -> sorted final paths
	last     []int              // per layer: the last ordinal wanted
	entries  map[contentKey]archive.Entry
	problems []*archive.Entry // refused names and broken hard links, for the caller to report
}

type nodeKind uint8

const (
	dirNode nodeKind = iota
	fileNode
	otherNode // a symlink, device or FIFO: it shadows, but has no bytes
)

// node is a path of the file system being built, layer over layer.
type node struct {
	kind     nodeKind
	children map[string]*node
	content  contentKey
}

// tree is the file system model of an image.
type tree struct {
	root  *node
	nodes int
}

func newTree() *tree {
	return &tree{root: &node{kind: dirNode, children: map[string]*node{}}}
}

func (t *tree) lookup(p string) *node {
	n := t.root
	if p == "" {
		return n
	}
	for part := range strings.SplitSeq(p, "/") {
		if n.kind != dirNode {
			return nil
		}
		if n = n.children[part]; n == nil {
			return nil
		}
	}
	return n
}

// symlinkAbove returns the path of a symlink (or other non-directory)
// among the parents of p, or "".
func (t *tree) symlinkAbove(p string) string {
	n := t.root
	parts := strings.Split(p, "/")
	for i, part := range parts[:len(parts)-1] {
		if n = n.children[part]; n == nil {
			return ""
		}
		if n.kind == otherNode {
			return strings.Join(parts[:i+1], "/")
		}
		if n.kind != dirNode {
			return ""
		}
	}
	return ""
}

// dir returns the directory at p, making it and its parents directories
// where they are missing or not directories.
func (t *tree) dir(p string) (*node, error) {
	n := t.root
	if p == "" {
		return n, nil
	}
	for part := range strings.SplitSeq(p, "/") {
		c := n.children[part]
		if c == nil || c.kind != dirNode {
			if c == nil {
				if t.nodes++; t.nodes > maxTreeNodes {
					return nil, archive.Corrupt("oci", -1, fmt.Sprintf("more than %d paths in one image", maxTreeNodes))
				}
			}
			c = &node{kind: dirNode, children: map[string]*node{}}
			n.children[part] = c
		}
		n = c
	}
	return n, nil
}

// set puts n at p, replacing what was there (a directory over a directory
// keeps its contents).
func (t *tree) set(p string, n *node) error {
	parent, err := t.dir(dirOf(p))
	if err != nil {
		return err
	}
	base := path.Base(p)
	old := parent.children[base]
	if old == nil {
		if t.nodes++; t.nodes > maxTreeNodes {
			return archive.Corrupt("oci", -1, fmt.Sprintf("more than %d paths in one image", maxTreeNodes))
		}
	}
	if old != nil && old.kind == dirNode && n.kind == dirNode {
		return nil
	}
	parent.children[base] = n
	return nil
}

func (t *tree) remove(p string) {
	parent := t.lookup(dirOf(p))
	if p == "" || parent == nil || parent.kind != dirNode {
		return
	}
	delete(parent.children, path.Base(p))
}

func dirOf(p string) string {
	d := path.Dir(p)
	if d == "." {
		return ""
	}
	return d
}

// layerEntry is an entry of a layer as the plan needs it.
type planEntry struct {
	ordinal int
	path    string
	entry   archive.Entry
	link    string // a hard link's target, cleaned
}

// buildPlan reads the headers of every layer of img, bottom to top, and
// works out the final file system. Each layer's digest is checked on the
// way.
func buildPlan(s blobStore, img image, meter archive.Meter, prefix string) (*plan, error) {
	t := newTree()
	p := &plan{img: img, entries: map[contentKey]archive.Entry{}}
	for i, l := range img.layers {
		entries, whiteouts, opaques, err := readLayerHeaders(s, l, meter, p, prefix)
		if err != nil {
			return nil, err
		}
		// Whiteouts apply to the layers below only, whatever their place
		// in this layer's tar.
		for _, d := range opaques {
			if n := t.lookup(d); n != nil && n.kind == dirNode {
				n.children = map[string]*node{}
			}
		}
		for _, w := range whiteouts {
			t.remove(w)
		}
		for _, e := range entries {
			if link := t.symlinkAbove(e.path); link != "" {
				// A runtime would write where the link points; hashr-extract
				// refuses such paths, told so by the link coming first.
				p.problems = append(p.problems, &archive.Entry{Name: prefix + link, Type: archive.Symlink},
					&archive.Entry{Name: prefix + e.path, Type: archive.Regular, Size: -1})
				continue
			}
			var n *node
			switch e.entry.Type {
			case archive.Dir:
				n = &node{kind: dirNode, children: map[string]*node{}}
			case archive.Regular:
				key := contentKey{i, e.ordinal}
				n = &node{kind: fileNode, content: key}
				p.entries[key] = e.entry
			case archive.Hardlink:
				target := t.lookup(e.link)
				if target == nil || target.kind != fileNode {
					p.problems = append(p.problems, &archive.Entry{Name: prefix + e.path, Type: archive.Hardlink,
						Linkname: prefix + e.link, Size: -1})
					t.remove(e.path)
					continue
				}
				n = &node{kind: fileNode, content: target.content}
			default:
				n = &node{kind: otherNode}
			}
			if err := t.set(e.path, n); err != nil {
				return nil, err
			}
		}
	}
	p.content = make([]map[int][]string, len(img.layers))
	p.last = make([]int, len(img.layers))
	for i := range p.content {
		p.content[i] = map[int][]string{}
	}
	collect(t.root, "", func(fp string, key contentKey) {
		p.content[key.layer][key.ordinal] = append(p.content[key.layer][key.ordinal], fp)
		p.last[key.layer] = max(p.last[key.layer], key.ordinal)
	})
	return p, nil
}

// collect calls f for every file of the tree, in path order.
func collect(n *node, at string, f func(string, contentKey)) {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := n.children[name]
		p := name
		if at != "" {
			p = at + "/" + name
		}
		switch c.kind {
		case fileNode:
			f(p, c.content)
		case dirNode:
			collect(c, p, f)
		}
	}
}

// readLayerHeaders walks one layer's tar for its names, types and links,
// reading it to its end to check its digest.
func readLayerHeaders(s blobStore, l layer, meter archive.Meter, p *plan, prefix string) (entries []planEntry, whiteouts, opaques []string, err error) {
	ol, err := openLayerOf(s, l, meter)
	if err != nil {
		return nil, nil, nil, err
	}
	defer ol.close()
	for ord := 0; ; ord++ {
		e, err := ol.tar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("layer %s: %w", l.digest, err)
		}
		if ord >= maxTreeNodes {
			return nil, nil, nil, archive.Corrupt("oci", -1, fmt.Sprintf("layer %s has more than %d members", l.digest, maxTreeNodes))
		}
		fp, ok := layerPath(e.Name)
		if !ok {
			p.problems = append(p.problems, &archive.Entry{Name: fp, Type: archive.Regular, Size: -1})
			continue
		}
		if fp == "" {
			continue // the root
		}
		switch kind, target := whiteout(fp); kind {
		case deletes:
			whiteouts = append(whiteouts, target)
			continue
		case opaque:
			opaques = append(opaques, target)
			continue
		case aufsMeta:
			continue
		}
		pe := planEntry{ordinal: ord, path: fp, entry: *e}
		if e.Type == archive.Hardlink {
			t, ok := layerPath(e.Linkname)
			if !ok || t == "" {
				p.problems = append(p.problems, &archive.Entry{Name: prefix + fp, Type: archive.Hardlink, Linkname: e.Linkname, Size: -1})
				continue
			}
			pe.link = t
		}
		entries = append(entries, pe)
	}
	if err := ol.finish(); err != nil {
		return nil, nil, nil, err
	}
	return entries, whiteouts, opaques, nil
}
