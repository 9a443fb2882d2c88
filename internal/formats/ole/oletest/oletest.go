// Package oletest builds Windows Installer packages with wixl (Debian
// package wixl, of msitools) for the tests of the readers that walk them.
package oletest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// BuildMSI writes an MSI installing the files (paths relative to dir,
// at most a few dozen) from one embedded cabinet, "product.cab", and
// holding binary (relative to dir too) as a Binary table stream ("Binary.Payload"). It returns
// the MSI's path and the File table key (the name inside the cabinet)
// of each file.
func BuildMSI(t testing.TB, dir string, files []string, binary string) (string, map[string]string) {
	t.Helper()
	work := t.TempDir()
	var comps, refs strings.Builder
	keys := map[string]string{}
	for i, f := range files {
		key := fmt.Sprintf("F%d", i+1)
		keys[f] = key
		fmt.Fprintf(&comps, `<Component Id="C%d" Guid="11111111-2222-3333-4444-%012d"><File Id="%s" Name="f%d" Source="%s" KeyPath="yes"/></Component>`+"\n",
			i+1, i+1, key, i+1, f)
		fmt.Fprintf(&refs, `<ComponentRef Id="C%d"/>`, i+1)
	}
	wxs := `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Hashr Test" Language="1033" Version="1.0.0" Manufacturer="hashr" UpgradeCode="12345678-1234-1234-1234-123456789012">
    <Package InstallerVersion="200" Compressed="yes" Comments="hashr test package"/>
    <Media Id="1" Cabinet="product.cab" EmbedCab="yes"/>
    <Binary Id="Payload" SourceFile="` + binary + `"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="HashrTest">
` + comps.String() + `
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1">` + refs.String() + `</Feature>
  </Product>
</Wix>
`
	src := filepath.Join(work, "test.wxs")
	if err := os.WriteFile(src, []byte(wxs), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "test.msi")
	archivetest.NeedTool(t, "wixl")
	// wixl finds sources only by paths relative to where it runs.
	cmd := exec.Command("wixl", "-o", out, src)
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wixl: %v\n%s", err, msg)
	}
	return out, keys
}
