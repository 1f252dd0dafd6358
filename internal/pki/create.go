package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// ErrSigner marks an error of CreateCertificate whose cause is the signing
// backend (a key store outage), not the certificate: errors.Is finds it.
var ErrSigner = errors.New("the signing key could not sign")

// CreateCertificate makes a certificate from tmpl for pub, signed by
// parentKey, whose certificate is parent; parent nil makes tmpl
// self-signed. x509.CreateCertificate checks every signature it makes
// against the parent's key, so a faulty signer never yields a certificate.
// A backend failure is wrapped in ErrSigner (with the backend's error as
// the cause); any other error is a certificate that cannot be built. An
// end-entity template without a subject key identifier gets one (RFC 5280
// §4.2.1.2; x509 makes one itself only for CAs).
func CreateCertificate(ctx context.Context, tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey KeySigner) (*x509.Certificate, error) {
	if !tmpl.IsCA && len(tmpl.SubjectKeyId) == 0 {
		skid, err := cryptoutils.SKID(pub)
		if err != nil {
			return nil, fmt.Errorf("pki: subject key identifier of %q: %w", tmpl.Subject, err)
		}
		withID := *tmpl
		withID.SubjectKeyId = skid
		tmpl = &withID
	}
	if parent == nil {
		parent = tmpl
	}
	signer := NewRecordingSigner(parentKey)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, Bind(ctx, signer))
	if err != nil {
		if signer.Err() != nil {
			return nil, &SignerError{Err: signer.Err()}
		}
		if bad := signer.CheckLast(); bad != nil {
			// x509 refused the signature it was given: the key store
			// signed with another key than the parent's (a key changed
			// in Vault under the same version), not a bad template.
			return nil, &SignerError{Err: bad}
		}
		return nil, fmt.Errorf("pki: create certificate %q: %w", tmpl.Subject, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse certificate %q: %w", tmpl.Subject, err)
	}
	return cert, nil
}

// SignerError is a signing backend's failure met while making a
// certificate. It matches ErrSigner and unwraps to the backend's error.
type SignerError struct {
	// Err is the backend's error.
	Err error
}

// Error says that the key could not sign, and why.
func (e *SignerError) Error() string { return ErrSigner.Error() + ": " + e.Err.Error() }

// Unwrap returns the backend's error.
func (e *SignerError) Unwrap() []error { return []error{ErrSigner, e.Err} }

// RootTemplate is the template of a self-signed root CA certificate with
// a single O (as `gh attestation verify` requires) and room for one
// intermediate below it.
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
