package identity

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/sigstore/fulcio/pkg/certificate"

	"github.com/signet-dev/signet/internal/problem"
)

// verified is what a verified token offers the mappings.
type verified struct {
	issuer  string
	subject string
	// claims are the scalar claims as strings, the way templates see them.
	claims map[string]string
	// kinds is the JSON kind of every claim.
	kinds map[string]string
	// raw are the claims as decoded from JSON, for nested claims.
	raw map[string]any
	// templates caches the parsed claim templates; nil parses each time.
	templates *templateCache
}

// principalFor maps verified claims to a Principal by the issuer's type,
// as Fulcio v1.8.8 does for that type (see issuerTypes). Every refusal is
// a token fault.
func principalFor(cfg Config, conf Issuer, tok verified) (*Principal, error) {
	t, ok := typeOf(conf)
	if !ok {
		return nil, fmt.Errorf("identity: issuer type %q (ci-provider %q) has no mapping", conf.Type, conf.CIProvider)
	}
	p, err := t.principal(cfg, conf, tok)
	if err != nil {
		return nil, err
	}
	if err := encodable(p); err != nil {
		return nil, err
	}
	if p.Challenge, err = challengeOf(conf, t.challengeValue(tok), tok); err != nil {
		return nil, err
	}
	p.Subject, p.Claims, p.RawClaims = tok.subject, tok.claims, tok.raw
	return p, nil
}

// challengeOf is the value the proof of possession signs: the issuer's
// challenge-claim when configured, else the type's own.
func challengeOf(conf Issuer, fallback string, tok verified) (string, error) {
	if conf.ChallengeClaim == "" {
		return fallback, nil
	}
	if err := requireString(tok.kinds, tok.claims, conf.ChallengeClaim, "proof-of-possession challenge"); err != nil {
		return "", err
	}
	return tok.claims[conf.ChallengeClaim], nil
}

// ciPrincipal renders a CI profile: the SAN template and every extension
// template, claims first, then the profile's defaults; a key found in
// neither refuses the token. Issuer and Subject always come from the token.
func ciPrincipal(md IssuerMetadata, tok verified) (*Principal, error) {
	data := templateData(tok, md.DefaultTemplateValues)
	san, err := render(md.SubjectAlternativeNameTemplate, tok, md.DefaultTemplateValues, data, roleSAN, true)
	if err != nil {
		return nil, err
	}
	u, err := absoluteURI(san)
	if err != nil {
		return nil, err
	}
	exts, err := renderExtensions(md.ExtensionTemplates, tok, md.DefaultTemplateValues, data)
	if err != nil {
		return nil, err
	}
	exts.Issuer, exts.Subject = tok.issuer, tok.subject
	return &Principal{Issuer: tok.issuer, URI: u, Extensions: exts}, nil
}

// absoluteURI parses a SAN that must be an absolute URI.
func absoluteURI(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return nil, problem.Unauthorized("identity token maps to %q, which is not an absolute URI", s)
	}
	return u, nil
}

// encodable refuses a SAN a certificate cannot hold, before it reaches the
// CA: an rfc822Name or a URI must be ASCII (an IA5String), a URI must be
// absolute and its host a name that x509 parsers accept back.
func encodable(p *Principal) error {
	switch {
	case p.Email != "" && !isIA5(p.Email):
		return problem.Unauthorized("identity token's email %q cannot be certified: an email SAN must be ASCII (internationalized addresses are not supported)", p.Email)
	case p.URI == nil:
		return nil
	}
	s := p.URI.String()
	if !p.URI.IsAbs() {
		return problem.Unauthorized("identity token maps to %q, which is not an absolute URI", s)
	}
	if !isIA5(s) {
		return problem.Unauthorized("identity token maps to the URI %q, which cannot be certified: a URI SAN must be ASCII", s)
	}
	back, err := url.Parse(s)
	if err != nil || !printableASCII(back.Host) || !validDomain(back.Hostname()) {
		return problem.Unauthorized("identity token maps to the URI %q, whose host cannot be certified: it must be printable ASCII with no empty label", s)
	}
	return nil
}

// isIA5 reports whether s is ASCII, the alphabet of an IA5String.
func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 127 {
			return false
		}
	}
	return true
}

// validDomain applies crypto/x509's rule for the host of a URI SAN (which
// it refuses to parse back otherwise): empty, an IP literal, or dot-separated
// labels none of which is empty.
func validDomain(host string) bool {
	if host == "" || strings.HasPrefix(host, "[") || net.ParseIP(host) != nil {
		return true
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" {
			return false
		}
	}
	return true
}

// printableASCII reports whether s holds only characters 33 to 126, those
// crypto/x509 accepts in the host of a URI SAN.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// plainExtensions are the extensions of the non-CI types: issuer and subject.
func plainExtensions(issuer, subject string) certificate.Extensions {
	return certificate.Extensions{Issuer: issuer, Subject: subject}
}
