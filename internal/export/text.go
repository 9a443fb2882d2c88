package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/hex"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/pkg/records"
)

// textFormat writes one sample's lines; header comes first, if any.
type textFormat struct {
	header func(w *bufio.Writer) error
	sample func(w *bufio.Writer, s *db.SampleLinks) (lines int64, err error)
	// needs is the digest without which a sample is left out.
	needs func(s *db.Sample) []byte
}

func writeText(ctx context.Context, r *db.Reader, o *options, out *output) (counts, error) {
	return writeLines(ctx, r, o, out, textFormats(o, out.p))
}

// writeLines writes the selected samples in the text format tf.
func writeLines(ctx context.Context, r *db.Reader, o *options, out *output, tf textFormat) (counts, error) {
	var c counts
	if tf.header != nil {
		if err := tf.header(out.Writer); err != nil {
			return c, err
		}
	}
	err := r.Samples(ctx, o.filter, o.format == "nsrl-2", func(s *db.SampleLinks) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if tf.needs != nil && tf.needs(&s.Sample) == nil {
			c.skipped++
			return nil
		}
		n, err := tf.sample(out.Writer, s)
		c.samples++
		c.lines += n
		return err
	})
	return c, err
}

func textFormats(o *options, p *cli.Program) textFormat {
	switch o.format {
	case "md5sum":
		return sumFormat(o.prefix, func(s *db.Sample) []byte { return s.MD5 })
	case "sha1sum":
		return sumFormat(o.prefix, func(s *db.Sample) []byte { return s.SHA1 })
	case "sha256sum":
		return sumFormat(o.prefix, func(s *db.Sample) []byte { return s.SHA256 })
	case "hashdeep":
		return hashdeepFormat(o, p)
	case "xways":
		return xwaysFormat(o.algo)
	case "csv":
		return csvFormat(o.prefix)
	case "ndjson":
		return ndjsonFormat(o.prefix)
	}
	panic("export: no writer for format " + o.format)
}

// allPaths is the sorted, distinct union of a sample's paths in its links.
func allPaths(s *db.SampleLinks) []string {
	var paths []string
	for _, l := range s.Links {
		paths = append(paths, l.Paths...)
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// sumFormat is the format of md5sum, sha1sum and sha256sum: "HASH  NAME",
// with a name holding a backslash or newline escaped and the line starting
// with a backslash, as coreutils writes it.
func sumFormat(prefix string, digest func(*db.Sample) []byte) textFormat {
	return textFormat{
		needs: digest,
		sample: func(w *bufio.Writer, s *db.SampleLinks) (int64, error) {
			sum := hex.EncodeToString(digest(&s.Sample))
			var n int64
			for _, p := range allPaths(s) {
				name := prefix + p
				if strings.ContainsAny(name, "\\\n\r") {
					w.WriteByte('\\')
					name = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(name)
				}
				w.WriteString(sum)
				w.WriteString("  ")
				w.WriteString(name)
				if err := w.WriteByte('\n'); err != nil {
					return n, err
				}
				n++
			}
			return n, nil
		},
	}
}

// hashdeepFormat is hashdeep's file format: a header naming the columns,
// then size,md5,sha256,filename. hashdeep reads the file name as the rest
// of the line, raw (it writes names so itself), so commas and a carriage
// return inside a name need nothing; a name holding a newline, or ending
// with a carriage return (hashdeep strips it when reading), cannot be
// written: it is left out, named on stderr, and the export exits 3.
func hashdeepFormat(o *options, p *cli.Program) textFormat {
	return textFormat{
		needs: func(s *db.Sample) []byte { return s.MD5 },
		header: func(w *bufio.Writer) error {
			_, err := w.WriteString("%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n## Invoked from: hashr-export\n## $ hashr-export --format hashdeep\n##\n")
			return err
		},
		sample: func(w *bufio.Writer, s *db.SampleLinks) (int64, error) {
			sha256 := hex.EncodeToString(s.SHA256)
			if s.Size < 0 {
				p.Failf("sample %s has no size in the database, which the hashdeep format needs: left out", sha256)
				return 0, nil
			}
			md5 := hex.EncodeToString(s.MD5)
			var n int64
			for _, path := range allPaths(s) {
				name := o.prefix + path
				if strings.Contains(name, "\n") || strings.HasSuffix(name, "\r") {
					p.Failf("path %q of sample %s cannot be written in the hashdeep format (hashdeep reads a name to the end of its line): left out", name, sha256)
					continue
				}
				w.WriteString(strconv.FormatInt(s.Size, 10))
				w.WriteByte(',')
				w.WriteString(md5)
				w.WriteByte(',')
				w.WriteString(sha256)
				w.WriteByte(',')
				w.WriteString(name)
				if err := w.WriteByte('\n'); err != nil {
					return n, err
				}
				n++
			}
			return n, nil
		},
	}
}

// nsrl2Format is NSRL RDS 2.x NSRLFile.txt: one line per file name per
// source, digests uppercase, strings quoted with quotes doubled; its
// ProductCode is the source's code, its OpSystemCode the catalogue's
// (cat.rds2OSCode, as NSRLProd.txt and NSRLOS.txt have them).
func nsrl2Format(cat *catalogue) textFormat {
	upper := func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
	return textFormat{
		needs: func(s *db.Sample) []byte { return s.SHA1 },
		header: func(w *bufio.Writer) error {
			_, err := w.WriteString(rds2FileHeader + "\n")
			return err
		},
		sample: func(w *bufio.Writer, s *db.SampleLinks) (int64, error) {
			size := "0"
			if s.Size >= 0 {
				size = strconv.FormatInt(s.Size, 10)
			}
			prefix := rds2Quote(upper(s.SHA1)) + "," + rds2Quote(upper(s.MD5)) + "," + rds2Quote(upper(s.CRC32)) + ","
			var n int64
			for _, l := range s.Links {
				var names []string
				for _, p := range l.Paths {
					names = append(names, path.Base(p))
				}
				slices.Sort(names)
				for _, name := range slices.Compact(names) {
					w.WriteString(prefix)
					w.WriteString(rds2Quote(name))
					w.WriteString("," + size + "," + strconv.FormatInt(l.Code, 10) + "," + rds2Quote(cat.rds2OSCode(l.Code)) + `,""`)
					if err := w.WriteByte('\n'); err != nil {
						return n, err
					}
					n++
				}
			}
			return n, nil
		},
	}
}

// xwaysFormat is an X-Ways Forensics hash set: the hash type's name on the
// first line, then one hash a line, uppercase. Samples come in SHA-256
// order, so an md5 or sha1 shared by two samples (a collision) is written
// twice; X-Ways ignores repeats.
func xwaysFormat(algo string) textFormat {
	digest := map[string]func(*db.Sample) []byte{
		"md5":    func(s *db.Sample) []byte { return s.MD5 },
		"sha1":   func(s *db.Sample) []byte { return s.SHA1 },
		"sha256": func(s *db.Sample) []byte { return s.SHA256 },
	}[algo]
	title := map[string]string{"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}[algo]
	return textFormat{
		needs:  digest,
		header: func(w *bufio.Writer) error { _, err := w.WriteString(title + "\n"); return err },
		sample: func(w *bufio.Writer, s *db.SampleLinks) (int64, error) {
			w.WriteString(strings.ToUpper(hex.EncodeToString(digest(&s.Sample))))
			return 1, w.WriteByte('\n')
		},
	}
}

// csvHeader names the csv format's columns.
var csvHeader = []string{"sha256", "sha1", "md5", "size", "mime", "source", "repo", "source_id", "path"}

// csvFormat is RFC 4180 CSV, one row per path per source.
func csvFormat(prefix string) textFormat {
	var cw *csv.Writer
	return textFormat{
		header: func(w *bufio.Writer) error {
			cw = csv.NewWriter(w)
			return cw.Write(csvHeader)
		},
		sample: func(w *bufio.Writer, s *db.SampleLinks) (int64, error) {
			size := ""
			if s.Size >= 0 {
				size = strconv.FormatInt(s.Size, 10)
			}
			var n int64
			for _, l := range s.Links {
				id := ""
				if len(l.IDs) > 0 {
					id = l.IDs[0]
				}
				for _, p := range l.Paths {
					if err := cw.Write([]string{hex.EncodeToString(s.SHA256), hex.EncodeToString(s.SHA1), hex.EncodeToString(s.MD5),
						size, s.MIME, hex.EncodeToString(l.Source), l.Repo, id, prefix + p}); err != nil {
						return n, err
					}
					n++
				}
			}
			cw.Flush()
			return n, cw.Error()
		},
	}
}

// ndjsonFormat writes file records, one per path per source, with every
// digest the database holds.
func ndjsonFormat(prefix string) textFormat {
	hexOf := func(b []byte) string {
		if b == nil {
			return ""
		}
		return hex.EncodeToString(b)
	}
	return textFormat{
		sample: func(w *bufio.Writer, s *db.SampleLinks) (int64, error) {
			f := records.File{SHA256: hexOf(s.SHA256), MD5: hexOf(s.MD5), SHA1: hexOf(s.SHA1), SHA512: hexOf(s.SHA512),
				CRC32: hexOf(s.CRC32), BLAKE3: hexOf(s.BLAKE3), SSDEEP: s.SSDEEP, TLSH: s.TLSH, MIME: s.MIME}
			if s.Size >= 0 {
				f.Size = records.Int64(s.Size)
			}
			var n int64
			for _, l := range s.Links {
				f.Source = hex.EncodeToString(l.Source)
				for _, p := range l.Paths {
					f.Path = prefix + p
					line, err := records.Marshal(&f)
					if err != nil {
						return n, err
					}
					w.Write(line)
					if err := w.WriteByte('\n'); err != nil {
						return n, err
					}
					n++
				}
			}
			return n, nil
		},
	}
}
