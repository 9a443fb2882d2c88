package apt

import (
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/hashr-dev/hashr/internal/verify"
)

// armoredBody returns the binary signature packets of a clearsigned block.
func armoredBody(b *clearsign.Block) []byte {
	body, err := io.ReadAll(b.ArmoredSignature.Body)
	if err != nil {
		return nil // the signature check then reports a missing signature
	}
	return body
}

// dearmor returns the binary packets of an ASCII-armored signature, or
// data itself when it is binary already (Release.gpg is either).
func dearmor(data []byte) []byte { return verify.Dearmor(data) }
