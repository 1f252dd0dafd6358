package pki

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// KeyChain is a signing key and the certificate chain that certifies it:
// Chain[0] is the certificate of Signer's key, the root is last.
type KeyChain struct {
	// Signer signs with the key of Chain[0].
	Signer KeySigner
	// Chain is leaf-or-intermediate first, root last.
	Chain []*x509.Certificate
}

// Check verifies that the key matches Chain[0] and that each certificate is
// signed by the next one, the last by itself. It runs at start-up, before
// serving.
func (k KeyChain) Check() error {
	if k.Signer == nil {
		return errors.New("pki: key chain has no signer")
	}
	if len(k.Chain) == 0 {
		return errors.New("pki: key chain has no certificates")
	}
	if !SamePublicKey(k.Signer.Public(), k.Chain[0].PublicKey) {
		return fmt.Errorf("pki: the signing key does not match the certificate %q: the key store holds a different key than the chain names", k.Chain[0].Subject)
	}
	for i := 0; i+1 < len(k.Chain); i++ {
		if err := k.Chain[i].CheckSignatureFrom(k.Chain[i+1]); err != nil {
			return fmt.Errorf("pki: certificate %q is not signed by %q: %w", k.Chain[i].Subject, k.Chain[i+1].Subject, err)
		}
	}
	root := k.Chain[len(k.Chain)-1]
	if err := root.CheckSignatureFrom(root); err != nil {
		return fmt.Errorf("pki: last certificate %q is not a self-signed root: %w", root.Subject, err)
	}
	return nil
}

// SamePublicKey reports whether a and b are the same public key
// (cryptoutils.EqualKeys, which also refuses key types it does not know).
func SamePublicKey(a, b any) bool {
	return cryptoutils.EqualKeys(a, b) == nil
}
