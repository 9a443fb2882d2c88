package export

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
)

// NSRL RDS 2.x is four comma-separated files with a header line each:
// NSRLFile.txt (the files), NSRLProd.txt (the products they are of),
// NSRLOS.txt (the operating systems) and NSRLMfg.txt (the
// manufacturers), tied together by ProductCode, OpSystemCode and MfgCode.
// Headers and quoting are NIST's, from "Data Formats of the NSRL
// Reference Data Set (RDS) Distribution Files"
// (https://www.nsrl.nist.gov/Documents/Data-Formats-of-the-NSRL-Reference-Data-Set-(RDS)-Distribution-Files.pdf)
// and the files of RDS 2.x releases themselves: every field in double
// quotes but NSRLFile.txt's FileSize and ProductCode and NSRLProd.txt's
// ProductCode, which are bare integers. RDS 2.x has no column for how a
// product was verified: nsrl-rds's PACKAGE_OBJECT has it.
const (
	rds2FileHeader = `"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"`
	rds2ProdHeader = `"ProductCode","ProductName","ProductVersion","OpSystemCode","MfgCode","Language","ApplicationType"`
	rds2OSHeader   = `"OpSystemCode","OpSystemName","OpSystemVersion","MfgCode"`
	rds2MfgHeader  = `"MfgCode","MfgName"`
)

// rds2Quote quotes a field of the RDS 2.x files: in double quotes, a
// quote doubled, a line break made a space (the files are read a line a
// row).
func rds2Quote(s string) string {
	s = strings.NewReplacer(`"`, `""`, "\n", " ", "\r", " ").Replace(s)
	return `"` + s + `"`
}

// writeNSRL2 writes NSRLFile.txt to out, its OpSystemCodes those of the
// catalogue (as -o DIR's NSRLOS.txt has them).
func writeNSRL2(ctx context.Context, r *db.Reader, o *options, out *output) (counts, error) {
	cat, err := readCatalogue(ctx, r, o.filter)
	if err != nil {
		return counts{}, err
	}
	return writeLines(ctx, r, o, out, nsrl2Format(cat))
}

// isDirectory says whether path names a directory (-o DIR).
func isDirectory(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// writeNSRL2Dir writes the four RDS 2.x files into the directory
// o.output. The files are renamed into place only once all four are
// written: a failed or interrupted run leaves an older set there as it
// was.
func writeNSRL2Dir(ctx context.Context, p *cli.Program, r *db.Reader, o *options) (counts, error) {
	cat, err := readCatalogue(ctx, r, o.filter)
	if err != nil {
		return counts{}, err
	}
	tables := []struct {
		name  string
		write func(w *bufio.Writer) error
	}{
		{"NSRLMfg.txt", cat.writeMfg},
		{"NSRLOS.txt", cat.writeOS},
		{"NSRLProd.txt", cat.writeProd},
	}
	var outs []*output
	defer func() {
		for _, out := range outs {
			out.abort()
		}
	}()
	for _, t := range tables {
		out, err := createOutput(p, filepath.Join(o.output, t.name))
		if err != nil {
			return counts{}, err
		}
		outs = append(outs, out)
		if err := t.write(out.Writer); err != nil {
			return counts{}, err
		}
	}
	files, err := createOutput(p, filepath.Join(o.output, "NSRLFile.txt"))
	if err != nil {
		return counts{}, err
	}
	outs = append(outs, files)
	c, err := writeLines(ctx, r, o, files, nsrl2Format(cat))
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return c, err
	}
	for len(outs) > 0 {
		if err := outs[0].commit(); err != nil {
			return c, err
		}
		outs = outs[1:]
	}
	return c, nil
}

// writeMfg writes NSRLMfg.txt: "MfgCode","MfgName".
func (c *catalogue) writeMfg(w *bufio.Writer) error {
	w.WriteString(rds2MfgHeader + "\n")
	for i, name := range c.makers {
		w.WriteString(rds2Quote(strconv.Itoa(i+1)) + "," + rds2Quote(name) + "\n")
	}
	return w.Flush()
}

// writeOS writes NSRLOS.txt: "OpSystemCode","OpSystemName",
// "OpSystemVersion","MfgCode".
func (c *catalogue) writeOS(w *bufio.Writer) error {
	w.WriteString(rds2OSHeader + "\n")
	for _, os := range c.systems {
		w.WriteString(rds2Quote(os.rds2Code) + "," + rds2Quote(os.name) + "," + rds2Quote(os.version) + "," +
			rds2Quote(strconv.FormatInt(os.mfgCode, 10)) + "\n")
	}
	return w.Flush()
}

// writeProd writes NSRLProd.txt: ProductCode (bare), "ProductName",
// "ProductVersion", "OpSystemCode", "MfgCode", "Language" (unknown:
// empty), "ApplicationType" (the source's format).
func (c *catalogue) writeProd(w *bufio.Writer) error {
	w.WriteString(rds2ProdHeader + "\n")
	for _, p := range c.products {
		w.WriteString(strconv.FormatInt(p.code, 10) + "," + rds2Quote(p.name) + "," + rds2Quote(p.version) + "," +
			rds2Quote(c.systems[p.osCode-1].rds2Code) + "," + rds2Quote(strconv.FormatInt(p.mfgCode, 10)) + `,"",` +
			rds2Quote(p.appType) + "\n")
	}
	return w.Flush()
}
