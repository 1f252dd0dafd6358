package ca

import (
	"context"
	"crypto"
	"fmt"
	"io"
)

// KeySigner signs digests with a private key held by a backend: process
// memory, a PEM file, or a key store such as Vault transit that never
// releases the key. It is the trust seam shared by the CA and the TSA.
type KeySigner interface {
	// Public returns the public half of the signing key.
	Public() crypto.PublicKey
	// SignDigest signs a digest computed with opts.HashFunc(). ECDSA
	// signatures are ASN.1 DER, as crypto.Signer returns them.
	SignDigest(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// LocalSigner is a KeySigner over a key in process memory.
type LocalSigner struct {
	// Key is the private key.
	Key crypto.Signer
	// Rand is the entropy source; nil means crypto/rand.
	Rand io.Reader
}

// Public returns the key's public half.
func (s LocalSigner) Public() crypto.PublicKey { return s.Key.Public() }

// SignDigest signs digest with the in-memory key.
func (s LocalSigner) SignDigest(_ context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Key.Sign(s.Rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("ca: local sign: %w", err)
	}
	return sig, nil
}

// Bind adapts a KeySigner to crypto.Signer for one call chain, so that
// libraries that take a crypto.Signer (x509.CreateCertificate, RFC 3161
// token builders) sign under the request's context and deadline.
func Bind(ctx context.Context, s KeySigner) crypto.Signer {
	return boundSigner{ctx: ctx, s: s}
}

type boundSigner struct {
	ctx context.Context
	s   KeySigner
}

func (b boundSigner) Public() crypto.PublicKey { return b.s.Public() }

func (b boundSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return b.s.SignDigest(b.ctx, digest, opts)
}
