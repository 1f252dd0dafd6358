package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"time"
)

// RootTemplate is the template of a self-signed root CA certificate.
func RootTemplate(org, cn string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := RandomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{org}, CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}, nil
}

// IntermediateTemplate is the template of the issuing CA certificate. It
// carries the codeSigning EKU, as Fulcio's intermediates do, so chain
// verification for code signing passes through it, and the same single O
// as the root, which `gh attestation verify` relies on to pick a root.
func IntermediateTemplate(org, cn string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := RandomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{org}, CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}, nil
}

// Sign creates a certificate from tmpl for pub, signed by parentKey, whose
// certificate is parent; parent nil makes tmpl self-signed.
func Sign(ctx context.Context, tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey KeySigner) (*x509.Certificate, error) {
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, Bind(ctx, parentKey))
	if err != nil {
		return nil, fmt.Errorf("ca: sign %q: %w", tmpl.Subject, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parse %q: %w", tmpl.Subject, err)
	}
	return cert, nil
}
