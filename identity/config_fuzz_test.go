package identity

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/testclock"
	"go.yaml.in/yaml/v3"
)

// configSeeds are identity configs: the test suite's Fulcio-format files
// with their placeholders filled, Fulcio's own shipped config, JSON forms,
// then broken ones.
func configSeeds(tb testing.TB) []string {
	tb.Helper()
	kc, err := ca.NewMemoryCA(context.Background(), "signet-fuzz", testclock.Now(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	caPEM := string(pki.EncodeCertificatesPEM(kc.Chain[len(kc.Chain)-1:]))
	fill := strings.NewReplacer(
		"GITHUB_ISSUER", "https://token.actions.githubusercontent.com",
		"CI_ISSUER", "https://ci.example.com",
		"EMAIL_ISSUER", "https://accounts.example.com",
		"INTERNAL_CA_PEM", strings.ReplaceAll(strings.TrimSpace(caPEM), "\n", "\n    "),
	)
	var seeds []string
	for _, name := range []string{"fulcio-identity.yaml", "fulcio-identity-all.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "test", "testdata", name))
		if err != nil {
			tb.Logf("seed %s: %v", name, err)
			continue
		}
		seed := fill.Replace(string(b))
		if name == "fulcio-identity-all.yaml" {
			// Each ca-cert costs a copy of the system pool per run; one
			// issuer keeps it, so that the fuzzer runs fast enough to
			// minimize what it finds from this seed.
			first := strings.Index(seed, "    ca-cert: *internal-ca\n") + 1
			seed = seed[:first] + strings.ReplaceAll(seed[first:], "    ca-cert: *internal-ca\n", "")
		}
		seeds = append(seeds, seed)
	}
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/sigstore/fulcio").Output(); err == nil {
		if b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "config", "identity", "config.yaml")); err == nil {
			seeds = append(seeds, string(b))
		}
	}
	gh, err := json.Marshal(Config{
		OIDCIssuers: map[string]Issuer{"https://token.actions.githubusercontent.com": {IssuerURL: "https://token.actions.githubusercontent.com", ClientID: "sigstore", Type: TypeGitHubWorkflow}},
		MetaIssuers: map[string]Issuer{"https://token.actions.githubusercontent.com/*": {ClientID: "sigstore", Type: TypeGitHubWorkflow, MaxTokenLifetime: "10m"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return append(seeds, string(gh),
		`{"OIDCIssuers":{"https://accounts.example.com":{"ClientID":"sigstore","Type":"email","IssuerClaim":"$.federated_claims.connector_id"}}}`,
		`{"OIDCIssuers":{"https://login.example.com":{"ClientID":"sigstore","Type":"username","SubjectDomain":"example.com"}},"MetaIssuers":{"https://oidc.eks.*.amazonaws.com/id/*":{"ClientID":"sigstore","Type":"kubernetes"}}}`,
		"oidc-issuers:\n  https://spire.example.com: {client-id: sigstore, type: spiffe, spiffe-trust-domain: example.com}\n  https://accounts.builds.example.com: {client-id: sigstore, type: uri, subject-domain: https://builds.example.com}\n",
		"oidc-issuers:\n  https://ci.acme.example: {client-id: signet, type: ci-provider, ci-provider: acme}\nci-issuer-metadata:\n  acme:\n    default-template-values: {url: https://ci.acme.example}\n    extension-templates: {build-signer-uri: '{{ .url }}/{{ .pipeline }}', build-trigger: trigger}\n    subject-alternative-name-template: '{{ .url }}/{{ .pipeline }}'\n",
		"oidc-issuers:\n  https://ci.acme.example: {client-id: signet, type: ci-provider, ci-provider: acme}\nci-issuer-metadata:\n  acme: {subject-alternative-name-template: '{{ .url '}\n",
		`{"OIDCIssuers":{"https://x":{"ClientID":"a","Type":"email","CACert":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"}}}`,
		"meta-issuers:\n  'https://*.example.com/(': {client-id: a, type: email}\n",
		"oidc-issuers: {https://x.example.com: {client-id: a, type: email, max-token-lifetime: -5h}}\n",
		"", "{}", "null", "[]", "oidc-issuers: [1, 2]\n", "{\"OIDCIssuers\":", "\t- x", "a: &a [*a, *a]\n",
	)
}

// FuzzParseConfig feeds arbitrary bytes to the identity config parser
// (Fulcio YAML or JSON): it must never panic. A config it accepts must
// start an Authenticator and an empty policy, find each of its issuers, and
// survive a round trip through JSON and through YAML unchanged.
//
//	go test -run '^$' -fuzz '^FuzzParseConfig$' -fuzztime 30s -parallel 1 ./identity/
func FuzzParseConfig(f *testing.F) {
	for _, s := range configSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		defer watchdog(fuzzLimit, doc)()
		cfg, err := ParseConfig(doc)
		if err != nil {
			return
		}
		if _, err := NewAuthenticator(cfg, Options{Clock: testclock.Now}); err != nil {
			t.Fatalf("config %q is accepted but no authenticator starts on it: %v", doc, err)
		}
		if _, err := NewPolicy(PolicyConfig{}, cfg, nil); err != nil {
			t.Fatalf("config %q is accepted but an empty policy is refused: %v", doc, err)
		}
		_ = GitHubBaseWarnings(cfg)
		for key := range cfg.OIDCIssuers {
			if _, ok := cfg.Lookup(key); !ok {
				t.Fatalf("config %q: issuer %q is not found", doc, key)
			}
		}
		for pattern := range cfg.MetaIssuers {
			if _, ok := cfg.Lookup(strings.ReplaceAll(pattern, "*", "x")); !ok {
				t.Fatalf("config %q: meta-issuer %q matches no instance of itself", doc, pattern)
			}
		}
		want, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("config %q: encode as JSON: %v", doc, err)
		}
		again, err := ParseConfig(want)
		if err != nil {
			t.Fatalf("config %q: its JSON form %s is refused: %v", doc, want, err)
		}
		if got, _ := json.Marshal(again); string(got) != string(want) {
			t.Fatalf("config %q changes through JSON:\n%s\n%s", doc, want, got)
		}
		y, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("config %q: encode as YAML: %v", doc, err)
		}
		again, err = ParseConfig(y)
		if err != nil {
			t.Fatalf("config %q: its YAML form %q is refused: %v", doc, y, err)
		}
		if got, _ := json.Marshal(again); string(got) != string(want) {
			t.Fatalf("config %q changes through YAML %q:\n%s\n%s", doc, y, want, got)
		}
	})
}

// policyTrustFuzz is the identity config policy rules are checked against.
var policyTrustFuzz = Config{
	OIDCIssuers: map[string]Issuer{
		"https://token.actions.githubusercontent.com": {ClientID: "sigstore", Type: TypeGitHubWorkflow},
		"https://gitlab.com":                          {ClientID: "sigstore", Type: TypeGitLabPipeline},
		"https://accounts.example.com":                {ClientID: "sigstore", Type: TypeEmail},
	},
	MetaIssuers: map[string]Issuer{
		"https://token.actions.githubusercontent.com/*": {ClientID: "sigstore", Type: TypeGitHubWorkflow},
	},
}

// policyPrincipals maps realistic claim sets through the real decoding and
// mapping, so that rules see claims as they do in production.
func policyPrincipals(tb testing.TB) []*Principal {
	tb.Helper()
	var out []*Principal
	for _, c := range []struct {
		iss    string
		conf   Issuer
		claims map[string]any
	}{
		{"https://token.actions.githubusercontent.com", policyTrustFuzz.OIDCIssuers["https://token.actions.githubusercontent.com"], gitHubClaimSet("https://token.actions.githubusercontent.com")},
		{"https://token.actions.githubusercontent.com/acme-corp", policyTrustFuzz.MetaIssuers["https://token.actions.githubusercontent.com/*"], gitHubClaimSet("https://token.actions.githubusercontent.com/acme-corp")},
		{"https://accounts.example.com", policyTrustFuzz.OIDCIssuers["https://accounts.example.com"], map[string]any{
			"iss": "https://accounts.example.com", "sub": "1234", "email": "dev@example.com", "email_verified": true,
			"iat": testclock.Now().Unix(), "exp": testclock.Now().Unix() + 300, "groups": []string{"release", "dev"},
			"nested": map[string]any{"n": 1.5, "list": []any{nil, true, "x"}},
		}},
	} {
		b, err := json.Marshal(c.claims)
		if err != nil {
			tb.Fatal(err)
		}
		m, err := decodeClaims(b)
		if err != nil {
			tb.Fatal(err)
		}
		if err := checkClaims(m, DefaultMaxTokenLifetime); err != nil {
			tb.Fatal(err)
		}
		cs := splitClaims(m)
		p, err := principalFor(policyTrustFuzz, c.conf, verified{issuer: c.iss, subject: m["sub"].(string), claims: cs.strings, kinds: cs.kinds, raw: cs.values})
		if err != nil {
			tb.Fatalf("%s: %v", c.iss, err)
		}
		out = append(out, p)
	}
	return out
}

// FuzzNewPolicy compiles arbitrary policy rules (name, issuer, CEL text,
// description): NewPolicy must never panic. A policy it accepts must
// decide every principal with an allow or a 403, never panic or another
// status, and list as uncovered only trusted issuers.
//
//	go test -run '^$' -fuzz '^FuzzNewPolicy$' -fuzztime 30s -parallel 1 ./identity/
func FuzzNewPolicy(f *testing.F) {
	gh := "https://token.actions.githubusercontent.com"
	for _, r := range []Rule{
		{Name: "acme-only", Issuer: gh, Require: `claims.repository_owner in ["acme", "acme-labs"]`, Description: "only acme signs"},
		{Name: "tags", Issuer: gh, Require: `claims.ref.glob("refs/tags/v*")`},
		{Name: "hosted", Issuer: gh + "/*", Require: `claims.?runner_environment.orValue("") != "self-hosted"`},
		{Name: "production", Issuer: gh, Require: `claims.environment == "production" && identity.startsWith("https://github.com/acme/")`},
		{Name: "default", Require: `has(claims.sub) && subject != ""`},
		{Name: "numbers", Require: `int(claims.run_attempt) < 3 && claims.iat > 0`},
		{Name: "email", Issuer: "https://accounts.example.com", Require: `claims.email.endsWith("@example.com") && claims.email_verified && "release" in claims.groups`},
		{Name: "nested", Issuer: "https://accounts.example.com", Require: `claims.nested.list.size() == 3 && claims.nested.n > 1.0`},
		{Name: "strings-ext", Require: `issuer.lowerAscii().split("/").size() > 2 && subject.matches("^repo:")`},
		{Name: "pattern", Issuer: "https://*.com", Require: "true"},
		{Name: "bad-glob", Require: `claims.ref.glob("refs/tags/[v")`},
		{Name: "dynamic-glob", Require: `claims.ref.glob(claims.sub)`},
		{Name: "not-bool", Require: `claims.repository`},
		{Name: "syntax", Require: `claims.repository_owner in ["acme"`},
		{Name: "costly", Require: `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, a+b+c > 0)))`},
		{Name: "", Require: "true"},
		{Name: "untrusted", Issuer: "https://evil.example.com", Require: "true"},
		{Name: "regex", Issuer: "https://token.actions.githubusercontent.com/(", Require: "true"},
	} {
		f.Add(r.Name, r.Issuer, r.Require, r.Description)
	}
	principals := policyPrincipals(f)
	trusted := append(sortedKeys(policyTrustFuzz.OIDCIssuers), sortedKeys(policyTrustFuzz.MetaIssuers)...)
	f.Fuzz(func(t *testing.T, name, issuer, require, description string) {
		defer watchdog(fuzzLimit, require)()
		rule := Rule{Name: name, Issuer: issuer, Require: require, Description: description}
		pol, err := NewPolicy(PolicyConfig{Rules: []Rule{rule}}, policyTrustFuzz, nil)
		if err != nil {
			return
		}
		for _, p := range principals {
			err := pol.Authorize(context.Background(), p)
			if err != nil && problem.StatusOf(err) != http.StatusForbidden {
				t.Fatalf("rule %+v: %s answered status %d, not 403: %v", rule, p.Name(), problem.StatusOf(err), err)
			}
		}
		for _, iss := range pol.Uncovered(policyTrustFuzz) {
			if !slices.Contains(trusted, iss) {
				t.Fatalf("rule %+v: Uncovered lists %q, which is not trusted", rule, iss)
			}
		}
		if issuer == "" && pol.Uncovered(policyTrustFuzz) != nil {
			t.Fatalf("default rule %+v leaves issuers uncovered: %q", rule, pol.Uncovered(policyTrustFuzz))
		}
	})
}
