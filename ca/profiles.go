package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"time"

	"github.com/signet-dev/signet/internal/pki"
)

// IntermediateTemplate is the template of the issuing CA certificate. It
// carries the codeSigning EKU, as Fulcio's intermediates do, so chain
// verification for code signing passes through it, and the same single O
// as the root, which `gh attestation verify` relies on to pick a root.
func IntermediateTemplate(org, cn string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := pki.RandomSerial()
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
