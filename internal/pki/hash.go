package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
)

// DefaultHash is the digest Sigstore verifiers pair with a key (sigstore's
// signature.LoadDefaultVerifier): SHA-256 for P-256 and RSA, SHA-384 for
// P-384, SHA-512 for P-521. Ed25519 signs messages, not digests, and any
// other key is unsupported: both are errors.
func DefaultHash(pub crypto.PublicKey) (crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, nil
		case elliptic.P384():
			return crypto.SHA384, nil
		case elliptic.P521():
			return crypto.SHA512, nil
		}
		return 0, fmt.Errorf("unsupported ECDSA curve %s: use P-256, P-384 or P-521", k.Curve.Params().Name)
	case *rsa.PublicKey:
		return crypto.SHA256, nil
	case ed25519.PublicKey:
		return 0, fmt.Errorf("an Ed25519 key signs messages, not digests")
	case nil:
		return 0, fmt.Errorf("no public key")
	}
	return 0, fmt.Errorf("unsupported key type %T: use ECDSA or RSA", pub)
}
