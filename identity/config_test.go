package identity

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fulcioShippedConfig reads config/identity/config.yaml of the Fulcio module
// signet builds against.
func fulcioShippedConfig(t *testing.T) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/sigstore/fulcio").Output()
	if err != nil {
		t.Skipf("cannot locate the fulcio module: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "config", "identity", "config.yaml"))
	if err != nil {
		t.Skipf("fulcio's shipped identity config: %v", err)
	}
	return b
}

func TestFulcioShippedConfigLoadsUnchanged(t *testing.T) {
	cfg, err := ParseConfig(fulcioShippedConfig(t))
	if err != nil {
		t.Fatalf("Fulcio's own identity config is refused: %v", err)
	}
	if len(cfg.OIDCIssuers) < 10 || len(cfg.MetaIssuers) < 5 {
		t.Errorf("issuers: %d oidc, %d meta", len(cfg.OIDCIssuers), len(cfg.MetaIssuers))
	}
	for _, name := range []string{ProfileGitHubWorkflow, ProfileGitLabPipeline, ProfileBuildkiteJob, ProfileCircleCIJob, ProfileCodefreshWorkflow} {
		got, ok := ShippedProfile(name)
		if !ok {
			t.Errorf("profile %s is not shipped", name)
			continue
		}
		if want := cfg.CIIssuerMetadata[name]; !reflect.DeepEqual(got, want) {
			t.Errorf("shipped profile %s differs from Fulcio's:\n got %+v\nwant %+v", name, got, want)
		}
	}
	if got := ShippedProfiles(); len(got) != 5 {
		t.Errorf("ShippedProfiles() = %v", got)
	}
}

func TestConfigRefusesBrokenEntries(t *testing.T) {
	const ci = "https://ci.example.com"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"no issuer", `ci-issuer-metadata: {}`, "trusts no issuer"},
		{"missing client-id", `oidc-issuers: {"https://ci.example.com": {type: email}}`, `oidc-issuers["https://ci.example.com"].client-id is missing`},
		{"missing type", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore}}`, `.type is missing`},
		{"unknown type", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: jenkins}}`, `.type "jenkins" is not supported`},
		{"issuer-url differs from key", `oidc-issuers: {"https://ci.example.com": {issuer-url: "https://other.example.com", client-id: sigstore, type: email}}`, `.issuer-url is "https://other.example.com"`},
		{"not a URL", `oidc-issuers: {"ci.example.com": {client-id: sigstore, type: email}}`, "must be an http(s) URL"},
		{"unknown ci-provider", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: ci-provider, ci-provider: jenkins}}`, `.ci-provider "jenkins" has no entry in ci-issuer-metadata`},
		{"ci-provider missing", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: ci-provider}}`, ".ci-provider is missing"},
		{"bad extension template", `
oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: ci-provider, ci-provider: mine}}
ci-issuer-metadata:
  mine:
    extension-templates: {build-signer-uri: "{{ .url "}
    subject-alternative-name-template: "{{ .url }}"`, `ci-issuer-metadata["mine"].extension-templates.build-signer-uri: template:`},
		{"bad SAN template", `
oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: ci-provider, ci-provider: mine}}
ci-issuer-metadata: {mine: {subject-alternative-name-template: "{{ if }}"}}`, `ci-issuer-metadata["mine"].subject-alternative-name-template`},
		{"empty SAN template", `
oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: ci-provider, ci-provider: mine}}
ci-issuer-metadata: {mine: {extension-templates: {runner-environment: x}}}`, `ci-issuer-metadata["mine"].subject-alternative-name-template is missing`},
		{"SPIFFE meta-issuer", `meta-issuers: {"https://spire-*.example.com": {client-id: sigstore, type: spiffe, spiffe-trust-domain: example.com}}`, `meta-issuers["https://spire-*.example.com"].type spiffe is not supported for meta-issuers`},
		{"SPIFFE without trust domain", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: spiffe}}`, ".spiffe-trust-domain is missing"},
		{"SPIFFE bad trust domain", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: spiffe, spiffe-trust-domain: "Example.com"}}`, ".spiffe-trust-domain: trust domain"},
		{"uri without subject-domain", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: uri}}`, ".subject-domain: missing for type uri"},
		{"uri subject-domain without scheme", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: uri, subject-domain: example.com}}`, "must be a URL with a scheme"},
		{"uri subject-domain elsewhere", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: uri, subject-domain: "https://example.org"}}`, `"example.org" is not under the issuer's domain`},
		{"username subject-domain with scheme", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: username, subject-domain: "https://example.com"}}`, "without a scheme"},
		{"issuer-claim on a CI issuer", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: github-workflow, issuer-claim: x}}`, ".issuer-claim is only for type email"},
		{"issuer-claim not a path", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: email, issuer-claim: "$.a[0]"}}`, ".issuer-claim: "},
		{"bad ca-cert", `oidc-issuers: {"https://ci.example.com": {client-id: sigstore, type: email, ca-cert: "not pem"}}`, ".ca-cert holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(strings.ReplaceAll(tc.doc, "CI", ci)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestConfigProfileOverride(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
oidc-issuers: {"https://gitlab.example.com": {client-id: sigstore, type: ci-provider, ci-provider: gitlab-pipeline}}
ci-issuer-metadata:
  gitlab-pipeline:
    default-template-values: {url: "https://gitlab.example.com"}
    subject-alternative-name-template: "{{ .url }}/{{ .project_path }}"`))
	if err != nil {
		t.Fatal(err)
	}
	md, _ := cfg.Profile(ProfileGitLabPipeline)
	if md.DefaultTemplateValues["url"] != "https://gitlab.example.com" || md.ExtensionTemplates.BuildSignerURI != "" {
		t.Errorf("the config's own profile does not replace the shipped one: %+v", md)
	}
	if md, _ := cfg.Profile(ProfileBuildkiteJob); md.SubjectAlternativeNameTemplate == "" {
		t.Error("shipped profiles are not available next to the config's own")
	}
}

func TestGitHubBaseURL(t *testing.T) {
	for _, tc := range []struct{ issuer, base string }{
		{"https://token.actions.githubusercontent.com", "https://github.com"},
		{"https://token.actions.githubusercontent.com/acme-corp", "https://github.com"},
		{"https://token.actions.octo.ghe.com", "https://octo.ghe.com"},
		{"https://TOKEN.ACTIONS.Octo.GHE.com", "https://octo.ghe.com"},
		{"https://ghes.example.com/_services/token", "https://ghes.example.com"},
		{"https://ghes.example.com:8443/_services/token/", "https://ghes.example.com:8443"},
		{"https://token.actions.ghe.com", ""},
		{"https://token.actions.a.b.ghe.com", ""},
		{"https://gitlab.com", ""},
		{"https://evil.example.com/token.actions.githubusercontent.com", ""},
	} {
		base, ok := GitHubBaseURL(tc.issuer)
		if base != tc.base || ok != (tc.base != "") {
			t.Errorf("GitHubBaseURL(%q) = %q, %v; want %q", tc.issuer, base, ok, tc.base)
		}
	}
}

func TestMetaRegexIsAnchoredAndNarrow(t *testing.T) {
	re, err := MetaRegex("https://oidc.circleci.com/org/*")
	if err != nil {
		t.Fatal(err)
	}
	for iss, want := range map[string]bool{
		"https://oidc.circleci.com/org/acme-1_x":                     true,
		"https://oidc.circleci.com/org/acme/../../evil":              false,
		"https://oidc.circleci.com/org/acme?x=https://evil.test":     false,
		"https://oidc.circleci.com/org/acme.evil.test":               false,
		"https://oidc.circleci.com/org/":                             false,
		"http://localhost/?https://oidc.circleci.com/org/acme":       false,
		"https://oidc.circleci.com/org/acme@evil.test":               false,
		"https://oidc.circleci.com/org/acme#https://oidc.evil.test/": false,
	} {
		if got := re.MatchString(iss); got != want {
			t.Errorf("match(%q) = %v, want %v", iss, got, want)
		}
	}
}

func TestSPIFFEID(t *testing.T) {
	for id, want := range map[string]string{
		"spiffe://example.org/ns/prod/sa/builder": "example.org",
		"spiffe://example.org":                    "example.org",
		"spiffe://Example.org/x":                  "",
		"spiffe://example.org/a//b":               "",
		"spiffe://example.org/a/../b":             "",
		"spiffe://example.org/a/":                 "",
		"spiffe://example.org:8443/a":             "",
		"spiffe://user@example.org/a":             "",
		"spiffe://example.org/a?b=c":              "",
		"https://example.org/a":                   "",
	} {
		td, err := spiffeTrustDomain(id)
		if td != want || (err == nil) != (want != "") {
			t.Errorf("spiffeTrustDomain(%q) = %q, %v; want %q", id, td, err, want)
		}
	}
}
