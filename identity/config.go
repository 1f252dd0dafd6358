package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/sigstore/fulcio/pkg/certificate"
	"go.yaml.in/yaml/v3"
)

// Issuer types understood by signet, named as in Fulcio's identity config.
const (
	TypeEmail          = "email"
	TypeGitHubWorkflow = "github-workflow"
	TypeCIProvider     = "ci-provider"
)

// Config is Fulcio's identity configuration: a Fulcio config file (YAML or
// JSON) parses into it unchanged.
type Config struct {
	// OIDCIssuers maps an issuer URL to its configuration.
	OIDCIssuers map[string]Issuer `json:"OIDCIssuers,omitempty" yaml:"oidc-issuers,omitempty"`
	// MetaIssuers maps an issuer URL pattern, where * matches [-_a-zA-Z0-9]+,
	// to the configuration shared by every issuer it matches.
	MetaIssuers map[string]Issuer `json:"MetaIssuers,omitempty" yaml:"meta-issuers,omitempty"`
	// CIIssuerMetadata holds the claim templates of each CI provider.
	CIIssuerMetadata map[string]IssuerMetadata `json:"CIIssuerMetadata,omitempty" yaml:"ci-issuer-metadata,omitempty"`
}

// Issuer is the configuration of one trusted OIDC issuer, with Fulcio's keys.
type Issuer struct {
	// IssuerURL is the expected `iss` of the issuer's tokens.
	IssuerURL string `json:"IssuerURL,omitempty" yaml:"issuer-url,omitempty"`
	// ClientID is the audience that must be in the token's `aud`.
	ClientID string `json:"ClientID" yaml:"client-id,omitempty"`
	// Type selects how claims become a certificate identity.
	Type string `json:"Type" yaml:"type,omitempty"`
	// CIProvider names an entry of CIIssuerMetadata, for type ci-provider.
	CIProvider string `json:"CIProvider,omitempty" yaml:"ci-provider,omitempty"`
	// IssuerClaim names a claim that holds the issuer to certify (email only).
	IssuerClaim string `json:"IssuerClaim,omitempty" yaml:"issuer-claim,omitempty"`
	// SubjectDomain is the domain a uri/username subject must belong to.
	SubjectDomain string `json:"SubjectDomain,omitempty" yaml:"subject-domain,omitempty"`
	// SPIFFETrustDomain is the trust domain of a spiffe issuer.
	SPIFFETrustDomain string `json:"SPIFFETrustDomain,omitempty" yaml:"spiffe-trust-domain,omitempty"`
	// ChallengeClaim names the claim the proof of possession signs.
	ChallengeClaim string `json:"ChallengeClaim,omitempty" yaml:"challenge-claim,omitempty"`
	// Description is free text for operators.
	Description string `json:"Description,omitempty" yaml:"description,omitempty"`
	// Contact is free text for operators.
	Contact string `json:"Contact,omitempty" yaml:"contact,omitempty"`
	// CACert is a PEM bundle trusted for TLS to this issuer.
	CACert string `json:"CACert,omitempty" yaml:"ca-cert,omitempty"`
	// SkipEmailVerification accepts email tokens without email_verified.
	SkipEmailVerification bool `json:"SkipEmailVerification,omitempty" yaml:"skip-email-verification,omitempty"`
}

// IssuerMetadata holds the templates that map a CI provider's claims to a
// SAN and to the Fulcio extensions.
type IssuerMetadata struct {
	// DefaultTemplateValues fill template keys absent from the token.
	DefaultTemplateValues map[string]string `json:"DefaultTemplateValues,omitempty" yaml:"default-template-values,omitempty"`
	// ExtensionTemplates maps each extension to a Go template or a bare claim name.
	ExtensionTemplates certificate.Extensions `json:"ExtensionTemplates,omitempty" yaml:"extension-templates,omitempty"`
	// SubjectAlternativeNameTemplate renders the URI SAN.
	SubjectAlternativeNameTemplate string `json:"SubjectAlternativeNameTemplate,omitempty" yaml:"subject-alternative-name-template,omitempty"`
}

// ParseConfig reads a Fulcio identity config, JSON or YAML, and validates it.
func ParseConfig(b []byte) (Config, error) {
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		cfg = Config{}
		if yerr := yaml.Unmarshal(b, &cfg); yerr != nil {
			return Config{}, fmt.Errorf("identity: parse config (neither JSON nor YAML): %w", yerr)
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks every issuer and template, naming the field at fault.
func (c Config) Validate() error {
	if len(c.OIDCIssuers) == 0 && len(c.MetaIssuers) == 0 {
		return errors.New("identity: config trusts no issuer: add one under oidc-issuers")
	}
	for _, key := range sortedKeys(c.OIDCIssuers) {
		iss := c.OIDCIssuers[key]
		if iss.IssuerURL != "" && iss.IssuerURL != key {
			return fmt.Errorf("identity: oidc-issuers[%q].issuer-url is %q: it must equal the key", key, iss.IssuerURL)
		}
		if err := c.validateIssuer(key, iss, false); err != nil {
			return err
		}
	}
	for _, key := range sortedKeys(c.MetaIssuers) {
		if _, err := MetaRegex(key); err != nil {
			return fmt.Errorf("identity: meta-issuers[%q]: %w", key, err)
		}
		if err := c.validateIssuer(key, c.MetaIssuers[key], true); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.CIIssuerMetadata) {
		if err := c.CIIssuerMetadata[name].validate(); err != nil {
			return fmt.Errorf("identity: ci-issuer-metadata[%q]: %w", name, err)
		}
	}
	return nil
}

func (c Config) validateIssuer(key string, iss Issuer, meta bool) error {
	where := fmt.Sprintf("identity: oidc-issuers[%q]", key)
	if meta {
		where = fmt.Sprintf("identity: meta-issuers[%q]", key)
	}
	u, err := url.Parse(strings.ReplaceAll(key, "*", "x"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s: the issuer must be an http(s) URL", where)
	}
	if iss.ClientID == "" {
		return fmt.Errorf("%s.client-id is missing: set the audience tokens must carry (sigstore clients ask for \"sigstore\")", where)
	}
	if iss.CACert != "" && !certPoolFromPEM(iss.CACert) {
		return fmt.Errorf("%s.ca-cert holds no PEM certificate", where)
	}
	if iss.IssuerClaim != "" && iss.Type != TypeEmail {
		return fmt.Errorf("%s.issuer-claim is only for type email", where)
	}
	switch iss.Type {
	case TypeEmail, TypeGitHubWorkflow:
	case TypeCIProvider:
		if iss.CIProvider == "" {
			return fmt.Errorf("%s.ci-provider is missing for type ci-provider", where)
		}
		if _, ok := c.CIIssuerMetadata[iss.CIProvider]; !ok && iss.CIProvider != TypeGitHubWorkflow {
			return fmt.Errorf("%s.ci-provider %q has no entry in ci-issuer-metadata", where, iss.CIProvider)
		}
	case "":
		return fmt.Errorf("%s.type is missing", where)
	default:
		return fmt.Errorf("%s.type %q is not supported (supported: %s, %s, %s)", where, iss.Type, TypeEmail, TypeGitHubWorkflow, TypeCIProvider)
	}
	return nil
}

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
			return fmt.Errorf("extension-templates.%s: %w", v.Type().Field(i).Name, err)
		}
	}
	return nil
}

func parseTemplate(s string) (*template.Template, error) {
	return template.New("").Option("missingkey=error").Parse(s)
}

// MetaRegex compiles a meta-issuer pattern: each * matches [-_a-zA-Z0-9]+
// and the match is anchored at both ends, so a pattern can never match a URL
// with another host, path or query smuggled in.
func MetaRegex(pattern string) (*regexp.Regexp, error) {
	quoted := regexp.QuoteMeta(pattern)
	expr := "^" + strings.ReplaceAll(quoted, regexp.QuoteMeta("*"), "[-_a-zA-Z0-9]+") + "$"
	return regexp.Compile(expr)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
