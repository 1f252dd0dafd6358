package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"

	"github.com/sigstore/fulcio/pkg/certificate"
)

// Principal is an authenticated identity, ready to be written into a
// certificate. Only Authenticate makes one, from a verified token.
type Principal struct {
	// Issuer is the OIDC issuer certified in the issuer extensions.
	Issuer string
	// Subject is the token's `sub`.
	Subject string
	// Challenge is the value the proof of possession must sign: `sub`, or
	// the email for email identities.
	Challenge string
	// URI is the URI SAN of CI identities.
	URI *url.URL
	// Email is the rfc822Name SAN of email identities.
	Email string
	// Extensions are the Fulcio extensions; Issuer is always set.
	Extensions certificate.Extensions
	// Claims are the verified token claims as strings, for policy.
	Claims map[string]string
}

// Name is the certified identity: the SAN as a string.
func (p *Principal) Name() string {
	if p.URI != nil {
		return p.URI.String()
	}
	return p.Email
}

// Embed writes the SAN and the Fulcio extensions into a certificate template.
func (p *Principal) Embed(cert *x509.Certificate) error {
	switch {
	case p.URI != nil:
		cert.URIs = []*url.URL{p.URI}
	case p.Email != "":
		cert.EmailAddresses = []string{p.Email}
	default:
		return errors.New("identity: principal has no subject alternative name")
	}
	exts, err := p.Extensions.Render()
	if err != nil {
		return fmt.Errorf("identity: render extensions: %w", err)
	}
	cert.ExtraExtensions = append(cert.ExtraExtensions, exts...)
	return nil
}
