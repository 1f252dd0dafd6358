// Package tufrepo publishes signet's trust documents (trusted_root.json and
// the signing config) as a TUF repository with consistent snapshots, the
// way Sigstore distributes its own: verifiers pin one root.json once and
// from then on fetch signed, fresh, rollback-protected trust material.
//
// The metadata is built with go-tuf v2 and derived deterministically from
// the root, the online key, the target files and the clock, so replicas
// that share them serve the same versions (and, with an Ed25519 online
// key, the same bytes) without sharing any state.
package tufrepo

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sigstore/sigstore/pkg/signature"
)

// Signer signs TUF metadata with one role key. The key may live in
// memory, in a file or in Vault; SignMessage gets the whole canonical
// JSON payload (Ed25519 signs it, ECDSA P-256 signs its SHA-256 and
// returns an ASN.1 signature).
type Signer interface {
	Public() crypto.PublicKey
	SignMessage(ctx context.Context, msg []byte) ([]byte, error)
}

// CheckKeyType refuses a public key go-tuf v2.4.2 cannot use as a role
// key: only Ed25519 and ECDSA P-256 keys are accepted.
func CheckKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return nil
		}
	}
	return fmt.Errorf("tufrepo: a TUF role key must be Ed25519 or ECDSA P-256, not %T", pub)
}

// keySigner is a Signer over a private key held in this process.
type keySigner struct{ priv crypto.Signer }

// NewKeySigner returns a Signer over an Ed25519 or ECDSA P-256 private key.
func NewKeySigner(priv crypto.Signer) (Signer, error) {
	if err := CheckKeyType(priv.Public()); err != nil {
		return nil, err
	}
	return keySigner{priv}, nil
}

// Public returns the key's public half.
func (k keySigner) Public() crypto.PublicKey { return k.priv.Public() }

// SignMessage signs msg: Ed25519 over the message, ECDSA over its SHA-256.
func (k keySigner) SignMessage(_ context.Context, msg []byte) ([]byte, error) {
	if p, ok := k.priv.(*ecdsa.PrivateKey); ok {
		sum := sha256.Sum256(msg)
		return ecdsa.SignASN1(rand.Reader, p, sum[:])
	}
	return k.priv.Sign(rand.Reader, msg, crypto.Hash(0))
}

// remoteSigner is a Signer whose key lives elsewhere (a Vault transit key).
type remoteSigner struct {
	pub  crypto.PublicKey
	sign func(ctx context.Context, msg []byte) ([]byte, error)
}

// NewRemoteSigner returns a Signer for a key held elsewhere: sign gets the
// whole message and returns the signature in the key type's TUF encoding.
func NewRemoteSigner(pub crypto.PublicKey, sign func(ctx context.Context, msg []byte) ([]byte, error)) (Signer, error) {
	if err := CheckKeyType(pub); err != nil {
		return nil, err
	}
	return remoteSigner{pub: pub, sign: sign}, nil
}

// Public returns the remote key's public half.
func (r remoteSigner) Public() crypto.PublicKey { return r.pub }

// SignMessage asks the remote key to sign msg.
func (r remoteSigner) SignMessage(ctx context.Context, msg []byte) ([]byte, error) {
	return r.sign(ctx, msg)
}

// GenerateKey makes a new Ed25519 role key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tufrepo: generating a key: %w", err)
	}
	return priv, nil
}

// LoadKeyFile reads a role key: a PEM PKCS #8 private key, Ed25519 or
// ECDSA P-256.
func LoadKeyFile(path string) (Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tufrepo: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("tufrepo: %s holds no PEM PRIVATE KEY (PKCS #8)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tufrepo: %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tufrepo: %s: %T cannot sign", path, k)
	}
	signer, err := NewKeySigner(s)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return signer, nil
}

// WriteKeyFile writes priv to a new file at path (mode 0600) as PEM
// PKCS #8; it never overwrites a file.
func WriteKeyFile(path string, priv crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("tufrepo: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("tufrepo: %w", err)
	}
	werr := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("tufrepo: writing %s: %w", path, err)
	}
	return nil
}

// boundSigner adapts a Signer to the sigstore signature.Signer go-tuf
// signs with, binding the context of the call that asked for metadata.
type boundSigner struct {
	ctx context.Context
	s   Signer
	// err keeps the signer's own error, which go-tuf replaces by its own.
	err *error
}

var _ signature.Signer = boundSigner{}

// PublicKey returns the key's public half.
func (b boundSigner) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return b.s.Public(), nil
}

// SignMessage signs the whole message.
func (b boundSigner) SignMessage(message io.Reader, _ ...signature.SignOption) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(message); err != nil {
		return nil, err
	}
	sig, err := b.s.SignMessage(b.ctx, buf.Bytes())
	if err != nil && b.err != nil {
		*b.err = err
	}
	return sig, err
}
