package config_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/signet-dev/signet/config"
)

// FuzzParse feeds arbitrary bytes to the signet.yaml parser: Parse and
// Validate must never panic. A configuration that validates must encode
// (Marshal, as `signet ca init` writes it), and that encoding must parse
// and validate again and encode to the same bytes.
//
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 30s -parallel 1 ./config/
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		// README's full example.
		`listen: 127.0.0.1:8080
admin-listen: 127.0.0.1:9090
public-url: http://127.0.0.1:8080
organization: signet
certificate-lifetime: 10m
ca:
  type: file
  key-file: /etc/signet/ca-key.pem
  chain-file: /etc/signet/ca-chain.pem
tsa:
  type: memory
  policy-oid: 1.3.6.1.4.1.57264.2
identity-config: /etc/signet/fulcio.yaml
oidc:
  clock-skew: 1m
  max-token-lifetime: 24h
  discovery-timeout: 10s
  jwks-timeout: 10s
  jwks-refetch-interval: 10s
policy:
  rules: []
rate-limit:
  requests-per-second: 5
  burst: 10
  per-identity:
    requests-per-second: 0.5
    burst: 20
    max-identities: 10000
    keys:
      https://token.actions.githubusercontent.com: repository-owner
`,
		// README's policy.
		`policy:
  rules:
    - name: acme-org
      issuer: https://token.actions.githubusercontent.com
      require: claims.repository_owner in ["acme", "acme-labs"]
    - name: trusted-builder
      issuer: https://token.actions.githubusercontent.com
      description: sign from your own workflows or the SLSA Go builder
      require: >
        claims.job_workflow_ref.startsWith(claims.repository + "/.github/workflows/") ||
        claims.job_workflow_ref.glob("slsa-framework/builders/.github/workflows/*@refs/tags/v*")
    - name: release-tags
      issuer: https://token.actions.githubusercontent.com
      require: claims.ref.glob("refs/tags/v*")
    - name: production
      issuer: https://token.actions.githubusercontent.com
      require: claims.?environment.orValue("") == "production"
    - name: staff
      require: claims.?email.orValue("").endsWith("@acme.example")
`,
		// Vault backends.
		`ca: {type: vault, key: signet-ca, chain-path: signet/ca-chain}
tsa: {type: vault, key: signet-tsa, key-version: 2, chain-path: signet/tsa-chain, policy-oid: 1.2.3.4}
vault:
  address: https://vault.example.com:8200
  namespace: team-a
  ca-cert: /etc/signet/vault-ca.pem
  client-cert: /etc/signet/c.pem
  client-key: /etc/signet/k.pem
  timeout: 5s
  max-retries: 2
  auth: {method: approle, role-id: r, secret-id-file: /run/secret}
`,
		"ca: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200, auth: {method: kubernetes, role: signet}}\n",
		"ca: {type: vault, key: k, chain-path: p}\nvault: {address: http://v:8200, auth: {token-file: /t}}\n",
		// Broken ones, from the unit tests and beyond.
		"", "lisen: 1.2.3.4:80\n", "listen: nowhere\n", "public-url: ftp://x\n", "certificate-lifetime: 10s\n",
		"ca: {type: hsm}\n", "tsa: {type: file}\n", "tsa: {policy-oid: 1.99}\n", "oidc: {clock-skew: 1h}\n",
		"rate-limit: {requests-per-second: -1}\n", "rate-limit: {per-identity: {requests-per-second: .inf}}\n",
		"rate-limit: {per-identity: {requests-per-second: 1, keys: {https://token.actions.githubusercontent.com: subject}}}\n",
		"policy: {rules: [{name: r1, require: 'claims.ref.glob(\"[\")'}]}\n", "policy: {rules: [{require: 'true'}]}\n",
		"certificate-lifetime: 1e9h\n", "vault: {max-retries: -1}\n", "listen: [1]\n", "--- \n...\n", "a: &a [*a, *a]\n",
		"listen: 127.0.0.1:8080\n---\nlisten: 0.0.0.0:1\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		// A hang is a finding too: crash the worker so that the fuzzer
		// saves the input (it has no per-input timeout of its own).
		timer := time.AfterFunc(20*time.Second, func() { panic(fmt.Sprintf("fuzz: one input ran over 20s: %q", doc)) })
		defer timer.Stop()
		c, err := config.Parse(doc)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("%q validates but does not encode: %v", doc, err)
		}
		again, err := config.Parse(out)
		if err != nil {
			t.Fatalf("%q validates, but its encoding %q does not parse: %v", doc, out, err)
		}
		again.Identity, again.Vault.Auth.Token, again.Vault.Auth.SecretID = c.Identity, c.Vault.Auth.Token, c.Vault.Auth.SecretID
		if err := again.Validate(); err != nil {
			t.Fatalf("%q validates, but its encoding %q does not: %v", doc, out, err)
		}
		if out2, err := again.Marshal(); err != nil || string(out2) != string(out) {
			t.Fatalf("%q changes through its encoding:\n%s\n%s (%v)", doc, out, out2, err)
		}
	})
}
