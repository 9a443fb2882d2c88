package export

import (
	"context"
	"strconv"
	"strings"
	"unicode"

	"github.com/hashr-dev/hashr/internal/db"
)

// catalogue is what the NSRL formats say of the selected sources besides
// their files: each source a product (a package), the operating systems
// they are of and the manufacturers of both, numbered so that nsrl-rds's
// tables, and nsrl-2's four files, name each other by the same codes.
// Sources are few (one per package), so it is held in memory.
type catalogue struct {
	products []product
	systems  []opSystem
	makers   []string         // manufacturer names; a manufacturer's code is its index + 1
	osOf     map[int64]int64  // a source's code (its product code) to its operating system's
	osCodes  map[string]int64 // by "os\x00"+os or "repo\x00"+repo
	mfgCodes map[string]int64 // by name
	// rds2Codes are the RDS 2.x OpSystemCodes taken (opSystem.rds2Code).
	rds2Codes map[string]bool
}

// product is a source as a package: PKG's and NSRLProd.txt's row.
type product struct {
	code, osCode, mfgCode int64
	name, version         string
	appType               string // the source's format: deb, rpm, wim…
	src                   *db.SourceInfo
}

// opSystem is OS's and NSRLOS.txt's row.
type opSystem struct {
	code, mfgCode int64
	name, version string
	// rds2Code is its OpSystemCode in the RDS 2.x files, where codes are
	// text and were mnemonics ("WINNT"): the repository, as nsrl-2 wrote
	// it before packages had an os, or the package's os ("Debian 12"),
	// with " #N" where another operating system has it already.
	rds2Code string
}

// readCatalogue numbers the products, operating systems and manufacturers
// of the sources f selects, in the sources' order (by SHA-256).
//
// A source's operating system is its package's os (from its own
// metadata: an apt suite's Release, an rpm's DISTRIBUTION tag, a WIM's
// XML…), made by its package's vendor (the first one seen, for an os that
// several vendors' packages name); only where the package names no os is
// the repository the operating system, made by a manufacturer of the same
// name, as hashr did before packages had one. A product's manufacturer is
// its package's vendor, else its operating system's.
func readCatalogue(ctx context.Context, r *db.Reader, f db.Filter) (*catalogue, error) {
	c := &catalogue{osOf: map[int64]int64{}, osCodes: map[string]int64{}, mfgCodes: map[string]int64{}, rds2Codes: map[string]bool{}}
	err := r.Sources(ctx, f, func(s *db.SourceInfo) error {
		c.add(s)
		return nil
	})
	return c, err
}

// add makes s a product, with its operating system and manufacturers.
func (c *catalogue) add(s *db.SourceInfo) {
	id := ""
	if len(s.IDs) > 0 {
		id = s.IDs[0]
	}
	name, version := sourcePackage(s, id)
	var vendor, osName string
	if p := s.Package; p != nil {
		vendor, osName = strings.TrimSpace(p.Vendor), strings.TrimSpace(p.OS)
	}
	osCode := c.systemOf(s.Repo, osName, vendor)
	mfgCode := c.systems[osCode-1].mfgCode
	if vendor != "" {
		mfgCode = c.maker(vendor)
	}
	c.products = append(c.products, product{code: s.Code, osCode: osCode, mfgCode: mfgCode,
		name: name, version: version, appType: s.Format, src: s})
	c.osOf[s.Code] = osCode
}

// systemOf is the code of the operating system osName (from a package),
// or of the repository where osName is "", added on first use.
func (c *catalogue) systemOf(repo, osName, vendor string) int64 {
	key, name, version, maker, rds2Code := "os\x00"+osName, "", "", vendor, osName
	if osName == "" {
		key, name, maker, rds2Code = "repo\x00"+repo, repo, repo, repo
		if name == "" {
			name, maker = "unknown", "unknown"
		}
	} else {
		name, version = splitOS(osName)
		if maker == "" {
			maker = "unknown"
		}
	}
	if code, ok := c.osCodes[key]; ok {
		return code
	}
	code := int64(len(c.systems) + 1)
	c.osCodes[key] = code
	for n, base := 2, rds2Code; c.rds2Codes[rds2Code]; n++ {
		rds2Code = base + " #" + strconv.Itoa(n)
	}
	c.rds2Codes[rds2Code] = true
	c.systems = append(c.systems, opSystem{code: code, mfgCode: c.maker(maker), name: name, version: version, rds2Code: rds2Code})
	return code
}

// rds2OSCode is the RDS 2.x OpSystemCode of the source whose code is
// source.
func (c *catalogue) rds2OSCode(source int64) string {
	if os, ok := c.osOf[source]; ok {
		return c.systems[os-1].rds2Code
	}
	return ""
}

// maker is the code of the manufacturer name, added on first use.
func (c *catalogue) maker(name string) int64 {
	if code, ok := c.mfgCodes[name]; ok {
		return code
	}
	c.makers = append(c.makers, name)
	code := int64(len(c.makers))
	c.mfgCodes[name] = code
	return code
}

// splitOS splits a package's os into the name and version NSRL's OS rows
// hold: its last word is the version when it starts with a digit
// ("Debian 12" is Debian, 12; "Microsoft® Windows® Operating System
// 10.0.22631.2861" is the product, its build); otherwise ("Debian
// trixie", "linux") it is all name.
func splitOS(os string) (name, version string) {
	cut := strings.LastIndexByte(os, ' ')
	if cut < 0 {
		return os, ""
	}
	last := os[cut+1:]
	if last == "" || !unicode.IsDigit(rune(last[0])) {
		return os, ""
	}
	return strings.TrimSpace(os[:cut]), last
}
