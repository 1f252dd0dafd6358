// Package ca issues short-lived code-signing certificates: an Issuer over a
// key chain (memory for development, files, or Vault transit through
// ca/vault) writes the identity a Principal embeds into a certificate
// whose profile (lifetime, key usage, extensions) Fulcio's leaves share.
package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
)

// Embedder writes an identity (SAN and extensions) into a certificate
// template. identity.Principal is one.
type Embedder interface {
	Embed(cert *x509.Certificate) error
}

// Issuer issues short-lived code-signing certificates with the key of an
// intermediate (or root) CA. It is safe for concurrent use.
type Issuer struct {
	key      pki.KeyChain
	lifetime time.Duration
	clock    func() time.Time
}

// NewIssuer checks the key chain and returns an Issuer whose certificates
// live for lifetime. clock nil means time.Now.
func NewIssuer(key pki.KeyChain, lifetime time.Duration, clock func() time.Time) (*Issuer, error) {
	if err := key.Check(); err != nil {
		return nil, err
	}
	if !key.Chain[0].IsCA || key.Chain[0].KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("ca: %q is not a CA certificate with certSign key usage", key.Chain[0].Subject)
	}
	if err := CheckCodeSigningChain(key.Chain); err != nil {
		return nil, err
	}
	if lifetime <= 0 {
		return nil, errors.New("ca: certificate lifetime must be positive")
	}
	if clock == nil {
		clock = time.Now
	}
	return &Issuer{key: key, lifetime: lifetime, clock: clock}, nil
}

// CheckCodeSigningChain refuses a CA chain whose certificates restrict
// their extended key usages to exclude code signing: verifiers (Go's
// x509, hence sigstore-go and cosign) apply every certificate's extended
// key usages to the whole chain, so each leaf issued under it would fail
// verification. No extended key usage, codeSigning or any is accepted, as
// Fulcio's VerifyCertChain does.
func CheckCodeSigningChain(chain []*x509.Certificate) error {
	for _, c := range chain {
		if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
			continue
		}
		if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return fmt.Errorf("ca: certificate %q restricts its extended key usages without codeSigning: every certificate issued under it would fail verification", c.Subject)
		}
	}
	return nil
}

// Chain returns the CA chain, issuing certificate first, root last.
func (i *Issuer) Chain() []*x509.Certificate { return i.key.Chain }

// Issue certifies pub for the identity who writes into the template. The
// certificate has an empty subject (so a critical SAN), a random 20-byte
// serial, digitalSignature and codeSigning only, and lives for the issuer's
// lifetime. A signer failure is problem.Unavailable.
func (i *Issuer) Issue(ctx context.Context, pub crypto.PublicKey, who Embedder) (*x509.Certificate, error) {
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, err
	}
	now := i.clock().UTC().Truncate(time.Second)
	parent := i.key.Chain[0]
	skid, err := cryptoutils.SKID(pub)
	if err != nil {
		return nil, problem.BadRequest("public key cannot be certified: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		SubjectKeyId:   skid,
		Subject:        pkix.Name{},
		NotBefore:      now,
		NotAfter:       now.Add(i.lifetime),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		AuthorityKeyId: parent.SubjectKeyId,
	}
	if now.Before(parent.NotBefore) {
		return nil, problem.Unavailable("the issuing CA certificate %q is not valid until %s: check this server's clock", parent.Subject, parent.NotBefore.UTC().Format(time.RFC3339))
	}
	if tmpl.NotAfter.After(parent.NotAfter) {
		return nil, problem.Unavailable("the issuing CA certificate %q expires at %s, before a new certificate would: rotate the CA", parent.Subject, parent.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := who.Embed(tmpl); err != nil {
		return nil, fmt.Errorf("ca: embed identity: %w", err)
	}
	cert, err := pki.CreateCertificate(ctx, tmpl, parent, pub, i.key.Signer)
	var pe *problem.Error
	switch {
	case err == nil:
		return cert, nil
	case errors.Is(err, pki.ErrSigner) && errors.As(err, &pe):
		return nil, pe // the key store classified its own failure
	case errors.Is(err, pki.ErrSigner):
		// The key store failed: never the client's fault.
		return nil, problem.Unavailable("the CA key could not sign").WithCause(err)
	}
	// A template x509 cannot encode: a server bug, not an outage.
	return nil, fmt.Errorf("ca: %w", err)
}
