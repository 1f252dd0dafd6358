package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// LoadFile reads a CA backend from PEM files: an unencrypted private key
// (PKCS #8, SEC 1 or PKCS #1) and its chain, the key's certificate first and
// the root last. The key is checked against the chain.
func LoadFile(keyPath, chainPath string) (KeyChain, error) {
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return KeyChain{}, fmt.Errorf("ca: read key: %w", err)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return KeyChain{}, fmt.Errorf("ca: key %s: %w", keyPath, err)
	}
	chainPEM, err := os.ReadFile(chainPath)
	if err != nil {
		return KeyChain{}, fmt.Errorf("ca: read chain: %w", err)
	}
	chain, err := ParseCertificatesPEM(chainPEM)
	if err != nil {
		return KeyChain{}, fmt.Errorf("ca: chain %s: %w", chainPath, err)
	}
	kc := KeyChain{Signer: LocalSigner{Key: key}, Chain: chain}
	if err := kc.Check(); err != nil {
		return KeyChain{}, fmt.Errorf("ca: %s and %s: %w", keyPath, chainPath, err)
	}
	return kc, nil
}

// ParsePrivateKeyPEM parses the first PEM private key in data.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not an unencrypted private key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T cannot sign", key)
	}
	return signer, nil
}

// ParseCertificatesPEM parses every CERTIFICATE block of data, in order.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
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
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
