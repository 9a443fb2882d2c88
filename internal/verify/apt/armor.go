package apt

import (
	"bytes"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
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
func dearmor(data []byte) []byte {
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP")) {
		return data
	}
	block, err := armor.Decode(bytes.NewReader(data))
	if err != nil {
		return data
	}
	body, err := io.ReadAll(block.Body)
	if err != nil {
		return data
	}
	return body
}
