package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"

	"github.com/sigstore/fulcio/pkg/certificate"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Principal is an authenticated identity, ready to be written into a
// certificate. Only Authenticate makes one, from a verified token.
type Principal struct {
	// Issuer is the OIDC issuer certified in the issuer extensions.
	Issuer string
	// Subject is the token's `sub`.
	Subject string
	// Challenge is the value the proof of possession must sign: the claim
	// ChallengeClaim names for the issuer (`sub`, or the email for email
	// identities and chainguard tokens that carry one).
	Challenge string
	// URI is the URI SAN of CI, uri, kubernetes, spiffe and chainguard identities.
	URI *url.URL
	// Email is the rfc822Name SAN of email identities.
	Email string
	// OtherName is the otherName SAN (`user!domain`) of username identities.
	OtherName string
	// Extensions are the Fulcio extensions; Issuer is always set.
	Extensions certificate.Extensions
	// Claims are the verified token claims as strings, as templates see them.
	Claims map[string]string
	// RawClaims are the verified token claims as decoded from JSON, for policy.
	RawClaims map[string]any
}

// Name is the certified identity: the SAN as a string.
func (p *Principal) Name() string {
	switch {
	case p.URI != nil:
		return p.URI.String()
	case p.Email != "":
		return p.Email
	}
	return p.OtherName
}

// Embed writes the SAN and the Fulcio extensions into a certificate template.
func (p *Principal) Embed(cert *x509.Certificate) error {
	switch {
	case p.URI != nil:
		cert.URIs = []*url.URL{p.URI}
	case p.Email != "":
		cert.EmailAddresses = []string{p.Email}
	case p.OtherName != "":
		ext, err := cryptoutils.MarshalOtherNameSAN(p.OtherName, true)
		if err != nil {
			return fmt.Errorf("identity: otherName SAN: %w", err)
		}
		cert.ExtraExtensions = append(cert.ExtraExtensions, *ext)
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
