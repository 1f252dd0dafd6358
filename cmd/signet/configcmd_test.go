package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runConfigValidate runs `signet config validate` on a config and an
// identity config written to a temporary directory.
func runConfigValidate(t *testing.T, signetYAML, identityYAML string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	idPath := filepath.Join(dir, "identity.yaml")
	cfgPath := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(idPath, []byte(identityYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte("identity-config: "+idPath+"\n"+signetYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := configCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"validate", cfgPath})
	err := cmd.Execute()
	return out.String(), err
}

const validIdentity = `
oidc-issuers:
  https://token.actions.githubusercontent.com:
    client-id: sigstore
    type: ci-provider
    ci-provider: github-workflow
  https://token.actions.octo.ghe.com:
    client-id: sigstore
    type: github-workflow
  https://gitlab.com:
    client-id: sigstore
    type: ci-provider
    ci-provider: gitlab-pipeline
  https://spire.example.com:
    client-id: sigstore
    type: spiffe
    spiffe-trust-domain: example.com
meta-issuers:
  https://token.actions.githubusercontent.com/*:
    client-id: sigstore
    type: github-workflow
`

const validPolicy = `
oidc:
  clock-skew: 20s
policy:
  rules:
    - name: acme-org
      issuer: https://token.actions.githubusercontent.com
      require: claims.repository_owner in ["acme"]
    - name: tags
      issuer: https://token.actions.githubusercontent.com
      require: claims.ref.glob("refs/tags/v*")
    - name: hosted
      require: claims.?runner_environment.orValue("") != "self-hosted"
`

func TestConfigValidatePrintsTheEffectiveConfig(t *testing.T) {
	out, err := runConfigValidate(t, validPolicy, validIdentity)
	if err != nil {
		t.Fatalf("valid config refused: %v\n%s", err, out)
	}
	for _, want := range []string{
		": valid",
		"oidc: clock-skew 20s, max-token-lifetime 24h0m0s, discovery-timeout 10s, jwks-timeout 10s, jwks-refetch-interval 10s",
		"issuers (5):",
		"https://token.actions.octo.ghe.com\n    type github-workflow, audience sigstore, base URL https://octo.ghe.com\n    rules: hosted",
		"https://token.actions.githubusercontent.com\n    type ci-provider github-workflow, audience sigstore, base URL https://github.com\n    rules: acme-org, tags",
		"https://spire.example.com\n    type spiffe, audience sigstore, trust domain example.com",
		"https://token.actions.githubusercontent.com/* (meta-issuer)",
		"policy rules (3):",
		"acme-org [issuer https://token.actions.githubusercontent.com]\n    require: claims.repository_owner in [\"acme\"]",
		"hosted [default (issuers without rules of their own)]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestConfigValidateRefusesBrokenConfigs(t *testing.T) {
	gh := "oidc-issuers:\n  https://token.actions.githubusercontent.com:\n    client-id: sigstore\n    type: github-workflow\n"
	for _, tc := range []struct {
		name, signet, identity, want string
	}{
		{"bad template", "", gh + `
  https://ci.example.com: {client-id: sigstore, type: ci-provider, ci-provider: mine}
ci-issuer-metadata:
  mine: {subject-alternative-name-template: "{{ .url ", extension-templates: {}}`,
			`ci-issuer-metadata["mine"].subject-alternative-name-template: template:`},
		{"unknown type", "", gh + "  https://ci.example.com: {client-id: sigstore, type: jenkins}\n", `oidc-issuers["https://ci.example.com"].type "jenkins" is not supported`},
		{"missing client-id", "", gh + "  https://ci.example.com: {type: email}\n", `oidc-issuers["https://ci.example.com"].client-id is missing`},
		{"SPIFFE meta-issuer", "", gh + "meta-issuers:\n  https://spire-*.example.com: {client-id: sigstore, type: spiffe, spiffe-trust-domain: example.com}\n",
			`meta-issuers["https://spire-*.example.com"].type spiffe is not supported for meta-issuers`},
		{"unknown ci-provider", "", gh + "  https://ci.example.com: {client-id: sigstore, type: ci-provider, ci-provider: travis}\n", `.ci-provider "travis" has no entry`},
		{"rule that does not compile", "policy: {rules: [{name: r1, require: 'claims.ref.glob(\"[\")'}]}\n", gh, `policy.rules[0] ("r1").require: glob pattern "["`},
		{"rule that is not boolean", "policy: {rules: [{name: r1, require: 'claims.ref'}]}\n", gh, `policy.rules[0] ("r1").require: the expression yields dyn, not bool`},
		{"rule for an untrusted issuer", "policy: {rules: [{name: r1, issuer: 'https://gitlab.com', require: 'true'}]}\n", gh, `policy.rules[0] ("r1").issuer: "https://gitlab.com" is not a trusted issuer`},
		{"rule without a name", "policy: {rules: [{require: 'true'}]}\n", gh, "policy.rules[0].name is missing"},
		{"unknown rule key", "policy: {rules: [{name: r1, expr: 'true'}]}\n", gh, "field expr not found"},
		{"skew too large", "oidc: {clock-skew: 1h}\n", gh, "oidc.clock-skew 1h0m0s must be between 0 (the default) and 5m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runConfigValidate(t, tc.signet, tc.identity)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q\n%s", err, tc.want, out)
			}
		})
	}
}

func TestConfigValidateWarnsOfIssuersNoRuleCovers(t *testing.T) {
	scoped := "policy:\n  rules:\n    - {name: acme-org, issuer: https://token.actions.githubusercontent.com, require: 'claims.repository_owner == \"acme\"'}\n"
	for _, tc := range []struct {
		name, signet string
		want         []string
		notWant      string
	}{
		{"scoped rules only", scoped, []string{
			"warning: no policy rule covers the trusted issuers https://gitlab.com, https://spire.example.com, https://token.actions.octo.ghe.com, https://token.actions.githubusercontent.com/*: their tokens are denied (no-rule-for-issuer)",
			"https://gitlab.com\n    type ci-provider gitlab-pipeline, audience sigstore\n    rules: none: its tokens are denied (no-rule-for-issuer)",
		}, ""},
		{"with a default rule", validPolicy, nil, "warning: no policy rule"},
		{"no rules", "", []string{"https://gitlab.com\n    type ci-provider gitlab-pipeline, audience sigstore\n    rules: none\n"}, "warning: no policy rule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runConfigValidate(t, tc.signet, validIdentity)
			if err != nil {
				t.Fatalf("valid config refused: %v\n%s", err, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if tc.notWant != "" && strings.Contains(out, tc.notWant) {
				t.Errorf("output has %q:\n%s", tc.notWant, out)
			}
		})
	}
}

func TestConfigValidateReadsVaultFromTheEnvironment(t *testing.T) {
	vaultCA := "ca: {type: vault, key: signet-ca, chain-path: signet/ca-chain}\nlog: {dir: /var/lib/signet/log, key: /etc/signet/log.key}\n"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" when valid
	}{
		{"address and token from the environment", map[string]string{"VAULT_ADDR": "https://vault.example.com:8200", "VAULT_TOKEN": "s.token"}, ""},
		{"no token anywhere", map[string]string{"VAULT_ADDR": "https://vault.example.com:8200"}, "needs VAULT_TOKEN"},
		{"no address anywhere", map[string]string{"VAULT_TOKEN": "s.token"}, "address is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_ROLE_ID", "VAULT_SECRET_ID"} {
				v, ok := tc.env[k]
				t.Setenv(k, v)
				if !ok {
					os.Unsetenv(k) // restored by the Setenv cleanup
				}
			}
			out, err := runConfigValidate(t, vaultCA, validIdentity)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v\n%s", err, out)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestConfigValidateWarnsOfGitHubTypesElsewhere(t *testing.T) {
	id := validIdentity + "  https://ci-*.example.com:\n    client-id: sigstore\n    type: github-workflow\n"
	out, err := runConfigValidate(t, "", id)
	if err != nil {
		t.Fatalf("valid config refused: %v\n%s", err, out)
	}
	want := "warning: issuer https://ci-*.example.com is type github-workflow but not a GitHub URL; its SANs will name https://github.com\n"
	logWarning := "warning: log has no dir and key" // memory keys: a temporary log
	if !strings.Contains(out, want) || !strings.Contains(out, logWarning) || strings.Count(out, "warning:") != 2 {
		t.Errorf("output lacks exactly the warnings %q and %q:\n%s", want, logWarning, out)
	}
}

func TestConfigValidateWarnsOfNoLog(t *testing.T) {
	out, err := runConfigValidate(t, "log: {type: off}\n", validIdentity)
	if err != nil {
		t.Fatalf("valid config refused: %v\n%s", err, out)
	}
	if want := "warning: log.type is off: certificates are issued without a record"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
