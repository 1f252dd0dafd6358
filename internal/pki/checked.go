package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/signet-dev/signet/internal/problem"
)

// CheckedSigner is a KeySigner whose every signature is checked with its
// public key before it is used: for a key in a store (Vault transit) that
// could answer with another key under the same name and version, where
// nothing else checks the signature (an RFC 3161 token). The CA needs no
// wrapper: x509.CreateCertificate checks its signatures itself.
type CheckedSigner struct {
	KeySigner
}

// SignDigest signs through the wrapped KeySigner and refuses a signature
// its public key does not verify, as problem.Unavailable.
func (c CheckedSigner) SignDigest(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := c.KeySigner.SignDigest(ctx, digest, opts)
	if err != nil {
		return nil, err
	}
	if err := verifyDigest(c.Public(), digest, sig, opts); err != nil {
		return nil, keyChanged(err)
	}
	return sig, nil
}

// keyChanged is the error of a signature its signer's public key does
// not verify.
func keyChanged(cause error) error {
	return problem.Unavailable("the key store signed with another key than the one this server loaded: the key changed in the store").WithCause(cause)
}

// verifyDigest checks sig over digest with pub, as SignDigest made it.
func verifyDigest(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("pki: the ECDSA signature does not verify with the signer's public key")
		}
		return nil
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(k, opts.HashFunc(), digest, sig, pss)
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
	case ed25519.PublicKey:
		if !ed25519.Verify(k, digest, sig) {
			return errors.New("pki: the Ed25519 signature does not verify with the signer's public key")
		}
		return nil
	}
	return fmt.Errorf("pki: cannot check a signature of a %T key", pub)
}
