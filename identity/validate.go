package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
)

// validateIssuer checks one issuer entry the way Fulcio does, and a little
// more: every message names the field at fault and says what to do.
func (c Config) validateIssuer(where, key string, iss Issuer, meta bool) error {
	u, err := url.Parse(strings.ReplaceAll(key, "*", "x"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s: the issuer must be an http(s) URL", where)
	}
	if iss.ClientID == "" {
		return fmt.Errorf("%s.client-id is missing: set the audience tokens must carry (sigstore clients ask for \"sigstore\")", where)
	}
	if iss.CACert != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(iss.CACert)) {
		return fmt.Errorf("%s.ca-cert holds no PEM certificate", where)
	}
	if _, err := iss.maxTokenLifetime(); err != nil {
		return fmt.Errorf("%s.max-token-lifetime: %w", where, err)
	}
	if iss.IssuerClaim != "" && iss.Type != TypeEmail {
		return fmt.Errorf("%s.issuer-claim is only for type email", where)
	}
	if iss.Type == "" {
		return fmt.Errorf("%s.type is missing (one of %s)", where, strings.Join(Types(), ", "))
	}
	t, ok := typeOf(iss)
	if !ok {
		return fmt.Errorf("%s.type %q is not supported (one of %s)", where, iss.Type, strings.Join(Types(), ", "))
	}
	return t.validate(c, issuerCheck{where: where, url: u, iss: iss, meta: meta})
}

// validSubjectDomain applies Fulcio's ownership rule: the subject domain of
// a uri or username issuer must share the issuer's two last DNS labels, so
// an issuer can only certify names under a domain its operator controls.
func validSubjectDomain(typ, domain string, issuer *url.URL) error {
	if domain == "" {
		return fmt.Errorf("missing for type %s", typ)
	}
	host := domain
	if typ == TypeURI {
		d, err := url.Parse(domain)
		if err != nil || d.Scheme == "" || d.Host == "" {
			return fmt.Errorf("%q must be a URL with a scheme for type uri, e.g. https://example.com", domain)
		}
		if d.Scheme != issuer.Scheme {
			return fmt.Errorf("scheme %q differs from the issuer's %q", d.Scheme, issuer.Scheme)
		}
		host = d.Hostname()
	} else if strings.Contains(domain, "://") {
		return fmt.Errorf("%q must be a bare domain without a scheme for type username", domain)
	}
	return sameRegisteredDomain(host, issuer.Hostname())
}

// sameRegisteredDomain compares the two last labels of two host names.
func sameRegisteredDomain(a, b string) error {
	if a == b {
		return nil
	}
	la, lb := strings.Split(a, "."), strings.Split(b, ".")
	if len(la) < 2 || len(lb) < 2 {
		return fmt.Errorf("host %q or %q has fewer than two labels", a, b)
	}
	if la[len(la)-1] != lb[len(lb)-1] || la[len(la)-2] != lb[len(lb)-2] {
		return fmt.Errorf("%q is not under the issuer's domain %q", a, b)
	}
	return nil
}

// validate checks that every template of a CI profile parses, naming the
// template by its YAML key.
func (m IssuerMetadata) validate() error {
	if strings.TrimSpace(m.SubjectAlternativeNameTemplate) == "" {
		return errors.New("subject-alternative-name-template is missing")
	}
	if _, err := parseTemplate(m.SubjectAlternativeNameTemplate); err != nil {
		return fmt.Errorf("subject-alternative-name-template: %w", err)
	}
	v := reflect.ValueOf(m.ExtensionTemplates)
	for i := range v.NumField() {
		if _, err := parseTemplate(v.Field(i).String()); err != nil {
			return fmt.Errorf("extension-templates.%s: %w", yamlName(v.Type().Field(i)), err)
		}
	}
	return nil
}

// yamlName is the YAML key of a struct field.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// claimPath splits an issuer-claim into the keys it walks: a claim name, or
// a JSON path of dot-separated names such as $.federated_claims.connector_id.
func claimPath(expr string) ([]string, error) {
	rest, isPath := strings.CutPrefix(expr, "$.")
	if !isPath {
		rest = expr
	}
	keys := strings.Split(rest, ".")
	if !isPath {
		keys = []string{expr}
	}
	if slices.Contains(keys, "") || strings.ContainsAny(rest, "[]*$") {
		return nil, fmt.Errorf("%q is neither a claim name nor a $.a.b path of claim names", expr)
	}
	return keys, nil
}
