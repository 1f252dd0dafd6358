package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// LoadFiles reads a key backend from PEM files: an unencrypted private key
// (PKCS #8, SEC 1 or PKCS #1) and its chain, the key's certificate first
// and the root last. The key is checked against the chain.
func LoadFiles(keyPath, chainPath string) (KeyChain, error) {
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return KeyChain{}, fmt.Errorf("pki: read key: %w", err)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return KeyChain{}, fmt.Errorf("pki: key %s: %w", keyPath, err)
	}
	chainPEM, err := os.ReadFile(chainPath)
	if err != nil {
		return KeyChain{}, fmt.Errorf("pki: read chain: %w", err)
	}
	chain, err := ParseCertificatesPEM(chainPEM)
	if err != nil {
		return KeyChain{}, fmt.Errorf("pki: chain %s: %w", chainPath, err)
	}
	kc := KeyChain{Signer: LocalSigner{Key: key}, Chain: chain}
	if err := kc.Check(); err != nil {
		return KeyChain{}, fmt.Errorf("pki: %s and %s: %w", keyPath, chainPath, err)
	}
	return kc, nil
}

// ParsePrivateKeyPEM parses an unencrypted PEM private key (PKCS #8, SEC 1
// or PKCS #1) with cryptoutils.UnmarshalPEMToPrivateKey.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	key, err := cryptoutils.UnmarshalPEMToPrivateKey(data, cryptoutils.SkipPassword)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T cannot sign", key)
	}
	return signer, nil
}

// ParseCertificatesPEM parses PEM certificates, in order, with
// cryptoutils.UnmarshalCertificatesFromPEM; none at all is an error.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(data)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

// EncodeCertificatesPEM encodes certificates as concatenated PEM blocks.
func EncodeCertificatesPEM(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, cryptoutils.PEMEncode(cryptoutils.CertificatePEMType, c.Raw)...)
	}
	return out
}
