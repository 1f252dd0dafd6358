// Package pki holds the key and certificate plumbing that the CA and the
// TSA share: the KeySigner seam over a key that may live in a key store,
// key chains checked at start, certificate creation through a KeySigner,
// serial numbers, PEM files and development chains. It knows nothing of
// identities, timestamps or HTTP.
package pki

import (
	"context"
	"crypto"
	"errors"
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
		return nil, fmt.Errorf("pki: local sign: %w", err)
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

// Public returns the key's public half.
func (b boundSigner) Public() crypto.PublicKey { return b.s.Public() }

// Sign signs digest through the KeySigner under the bound context.
func (b boundSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return b.s.SignDigest(b.ctx, digest, opts)
}

// RecordingSigner wraps a KeySigner for one request and remembers whether
// the backend failed, so that a key store outage (503) is told apart from
// a certificate or token that cannot be built (a server fault). An empty
// signature counts as a backend failure.
type RecordingSigner struct {
	KeySigner
	err error
	// the last signature made, for CheckLast
	digest, sig []byte
	opts        crypto.SignerOpts
}

// NewRecordingSigner wraps s.
func NewRecordingSigner(s KeySigner) *RecordingSigner { return &RecordingSigner{KeySigner: s} }

// SignDigest signs through the wrapped KeySigner and records its failure.
func (r *RecordingSigner) SignDigest(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := r.KeySigner.SignDigest(ctx, digest, opts)
	if err == nil && len(sig) == 0 {
		err = errors.New("pki: the signer returned an empty signature")
	}
	if err != nil {
		r.err = err
		return nil, err
	}
	r.digest, r.sig, r.opts = digest, sig, opts
	return sig, nil
}

// CheckLast checks the last signature made with the signer's public key:
// nil when there is none or it verifies, else problem.Unavailable (the
// key store signed with another key).
func (r *RecordingSigner) CheckLast() error {
	if r.sig == nil {
		return nil
	}
	if err := verifyDigest(r.Public(), r.digest, r.sig, r.opts); err != nil {
		return keyChanged(err)
	}
	return nil
}

// Err is the backend's failure, nil when every signature was made.
func (r *RecordingSigner) Err() error { return r.err }
