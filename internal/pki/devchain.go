package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"time"
)

// DevValidity is the lifetime of a development chain. cosign v2.6 and
// v3.0 check the TSA chain at the current time, so it is long.
const DevValidity = 10 * 365 * 24 * time.Hour

// ChildTemplate makes the template of the certificate a development root
// signs, valid from notBefore to notAfter.
type ChildTemplate func(notBefore, notAfter time.Time) (*x509.Certificate, error)

// NewDevChain generates a development chain in process memory: a
// self-signed ECDSA root (O=org, CN=rootCN) and an ECDSA key certified by
// it with the template child makes, both on curve (P-384 when nil) and
// valid from an hour before now for DevValidity. The keys die with the
// process.
func NewDevChain(ctx context.Context, org, rootCN string, now time.Time, curve elliptic.Curve, child ChildTemplate) (KeyChain, error) {
	if curve == nil {
		curve = elliptic.P384()
	}
	notBefore, notAfter := now.Add(-time.Hour).UTC(), now.Add(DevValidity).UTC()
	rootKey, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return KeyChain{}, fmt.Errorf("pki: dev root key: %w", err)
	}
	childKey, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return KeyChain{}, fmt.Errorf("pki: dev key: %w", err)
	}
	rootTmpl, err := RootTemplate(org, rootCN, notBefore, notAfter)
	if err != nil {
		return KeyChain{}, err
	}
	rootSigner := LocalSigner{Key: rootKey}
	root, err := CreateCertificate(ctx, rootTmpl, nil, rootKey.Public(), rootSigner)
	if err != nil {
		return KeyChain{}, err
	}
	tmpl, err := child(notBefore, notAfter)
	if err != nil {
		return KeyChain{}, err
	}
	cert, err := CreateCertificate(ctx, tmpl, root, childKey.Public(), rootSigner)
	if err != nil {
		return KeyChain{}, err
	}
	return KeyChain{Signer: LocalSigner{Key: childKey}, Chain: []*x509.Certificate{cert, root}}, nil
}
