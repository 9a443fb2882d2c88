package extract

import (
	"bytes"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/verify/authenticode"
)

// memberVerification is --verify-members and --roots: the Authenticode
// check of PE members (.exe, .dll, .sys…) as they are copied.
type memberVerification struct {
	on    bool
	pem   string   // the roots, for the walk (in a sandbox child, which reads no file); "": the chain is not checked
	files []string // --roots as given
}

func addMemberVerificationFlags(fl *pflag.FlagSet, m *memberVerification) {
	fl.BoolVar(&m.on, "verify-members", false, "check the Authenticode signature of PE members (.exe, .dll, .sys, .efi, .ocx, .cpl, .scr, .drv) and record it in their \"verified\" field; a member whose signature fails is also an error record")
	fl.StringArrayVar(&m.files, "roots", nil, "with --verify-members: PEM root certificates the members' chains must end at (repeatable); without it the signature is checked and the chain not")
}

// load reads --roots.
func (m *memberVerification) load() error {
	if len(m.files) == 0 {
		return nil
	}
	if !m.on {
		return cli.Usagef("--roots checks the members' signatures: add --verify-members")
	}
	var pem bytes.Buffer
	for _, f := range m.files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--roots: reading root store: %w", err)
		}
		pem.Write(data)
		pem.WriteByte('\n')
	}
	// Parsed here only to refuse a file that holds no certificate.
	if _, err := authenticode.LoadRoots(m.files...); err != nil {
		return fmt.Errorf("--roots: %w", err)
	}
	m.pem = pem.String()
	return nil
}
