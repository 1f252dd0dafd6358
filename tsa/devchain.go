package tsa

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/signet-dev/signet/internal/pki"
)

// LeafTemplate returns the certificate template of a TSA signing
// certificate: not a CA, key usage digitalSignature, exactly one extended
// key usage, timeStamping, in a critical extension, subject O=org, CN=cn,
// a random serial of up to 20 bytes, valid from notBefore to notAfter.
//
// x509.CreateCertificate writes ExtKeyUsage as a non-critical extension,
// so the template carries the extension itself in ExtraExtensions and
// leaves ExtKeyUsage empty; the parsed certificate still reports
// ExtKeyUsage == [timeStamping].
func LeafTemplate(org, cn string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, err
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping()})
	if err != nil {
		return nil, fmt.Errorf("tsa: encode extended key usage: %w", err)
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{org}, CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions: []pkix.Extension{
			{Id: oidExtKeyUsage(), Critical: true, Value: eku},
		},
	}, nil
}

// NewDevChain generates an in-memory TSA chain for development: a
// self-signed ECDSA root CA (O=org) and an ECDSA TSA leaf signed by it, on
// curve (P-384 when nil), both valid from now-1h for ten years
// (pki.NewDevChain). It returns the leaf key and the chain leaf first,
// root last.
func NewDevChain(org string, now time.Time, curve elliptic.Curve) (pki.KeyChain, error) {
	return pki.NewDevChain(context.Background(), org, org+" TSA root", now, curve, func(notBefore, notAfter time.Time) (*x509.Certificate, error) {
		return LeafTemplate(org, org+" TSA", notBefore, notAfter)
	})
}
