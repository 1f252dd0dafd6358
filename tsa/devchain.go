package tsa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/signet-dev/signet/ca"
)

// devValidity is the lifetime of a development chain. cosign v2.6 and
// v3.0 check the TSA chain at the current time, so it is long.
const devValidity = 10 * 365 * 24 * time.Hour

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
	serial, err := randomSerial()
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
// self-signed ECDSA P-384 root CA (O=org) and an ECDSA P-384 TSA leaf
// signed by it, both valid from now-1h for ten years. It returns the leaf
// key as a ca.LocalSigner and the chain leaf first, root last.
func NewDevChain(org string, now time.Time) (ca.KeyChain, error) {
	notBefore, notAfter := now.Add(-time.Hour), now.Add(devValidity)
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return ca.KeyChain{}, fmt.Errorf("tsa: generate dev root key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return ca.KeyChain{}, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{org}, CommonName: org + " TSA root"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	root, err := createCertificate(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return ca.KeyChain{}, fmt.Errorf("tsa: create dev root: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return ca.KeyChain{}, fmt.Errorf("tsa: generate dev TSA key: %w", err)
	}
	leafTmpl, err := LeafTemplate(org, org+" TSA", notBefore, notAfter)
	if err != nil {
		return ca.KeyChain{}, err
	}
	leaf, err := createCertificate(leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		return ca.KeyChain{}, fmt.Errorf("tsa: create dev TSA leaf: %w", err)
	}
	return ca.KeyChain{
		Signer: ca.LocalSigner{Key: leafKey},
		Chain:  []*x509.Certificate{leaf, root},
	}, nil
}

// createCertificate signs tmpl with parent's key and parses the result.
func createCertificate(tmpl, parent *x509.Certificate, pub, priv any) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("tsa: sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tsa: parse certificate: %w", err)
	}
	return cert, nil
}

// randomSerial returns a random serial number in [1, 2^159), so that its
// DER encoding fits RFC 5280's 20 octets.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 159)
	n, err := rand.Int(rand.Reader, limit.Sub(limit, big.NewInt(1)))
	if err != nil {
		return nil, fmt.Errorf("tsa: random serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
