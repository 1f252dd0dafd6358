package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"time"
)

// NewMemoryCA generates a development CA in process memory: an ECDSA P-384
// root and an ECDSA P-384 intermediate, both with organisation org, valid
// from an hour before now for ten years. Its keys die with the process.
func NewMemoryCA(ctx context.Context, org string, now time.Time) (KeyChain, error) {
	notBefore, notAfter := now.Add(-time.Hour).UTC(), now.AddDate(10, 0, 0).UTC()
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return KeyChain{}, fmt.Errorf("ca: memory root key: %w", err)
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return KeyChain{}, fmt.Errorf("ca: memory intermediate key: %w", err)
	}
	rootTmpl, err := RootTemplate(org, org+" dev root", notBefore, notAfter)
	if err != nil {
		return KeyChain{}, err
	}
	root, err := Sign(ctx, rootTmpl, nil, rootKey.Public(), LocalSigner{Key: rootKey})
	if err != nil {
		return KeyChain{}, err
	}
	interTmpl, err := IntermediateTemplate(org, org+" dev intermediate", notBefore, notAfter)
	if err != nil {
		return KeyChain{}, err
	}
	inter, err := Sign(ctx, interTmpl, root, interKey.Public(), LocalSigner{Key: rootKey})
	if err != nil {
		return KeyChain{}, err
	}
	return KeyChain{Signer: LocalSigner{Key: interKey}, Chain: []*x509.Certificate{inter, root}}, nil
}
