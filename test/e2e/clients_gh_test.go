package e2e

import (
	"bytes"
	"encoding/json"
	"testing"
)

// ghEnv keeps gh away from the user's config, prompts and update checks.
func ghEnv(t *testing.T) []string {
	return []string{"GH_CONFIG_DIR=" + t.TempDir(), "GH_NO_UPDATE_NOTIFIER=1", "GH_PROMPT_DISABLED=1", "NO_COLOR=1"}
}

// trustedRootJSONL writes signet's trusted root as gh's custom trusted
// root: JSON Lines, one root a line, the file ending in a newline.
func (c *clients) trustedRootJSONL(t *testing.T) string {
	t.Helper()
	var line bytes.Buffer
	if err := json.Compact(&line, fetch(t, c.srv.URL+"/api/v1/trustedroot")); err != nil {
		t.Fatal(err)
	}
	line.WriteByte('\n')
	return c.write(t, "trusted_root.jsonl", line.Bytes())
}

// TestGHAttestationVerify: `gh attestation verify` accepts the SLSA
// provenance attestations of `signet attest` and of cosign v3's
// attest-blob through signet, offline against signet's trusted root, and
// refuses a wrong owner, repository, issuer or artifact.
func TestGHAttestationVerify(t *testing.T) {
	gh, cosign := ghPath(t), cosignPath(t)
	c := newClients(t)
	tr := c.trustedRootJSONL(t)
	env := ghEnv(t)

	cosignAtt := c.path("cosign.intoto.sigstore.json")
	mustRun(t, nil, cosign, "attest-blob", c.artifact, "--predicate", c.predicate, "--type", "slsaprovenance1",
		"--signing-config", c.signingConfig, "--trusted-root", c.trustedRoot,
		"--identity-token", c.token(t), "--bundle", cosignAtt, "--yes")

	verify := func(art, bundlePath string, extra ...string) []string {
		return append([]string{"attestation", "verify", art, "--bundle", bundlePath, "--custom-trusted-root", tr,
			"--cert-oidc-issuer", c.iss.URL(), "--format", "json"}, extra...)
	}
	for _, att := range []struct{ name, bundle string }{
		{"signet attest", c.attestation},
		{"cosign attest-blob", cosignAtt},
	} {
		b := att.bundle
		t.Run(att.name, func(t *testing.T) {
			out := mustRun(t, env, gh, verify(c.artifact, b, "--owner", "acme")...)
			var results []struct {
				VerificationResult struct {
					Statement struct {
						PredicateType string `json:"predicateType"`
					} `json:"statement"`
					Signature struct {
						Certificate struct {
							SubjectAlternativeName   string `json:"subjectAlternativeName"`
							SourceRepositoryOwnerURI string `json:"sourceRepositoryOwnerURI"`
						} `json:"certificate"`
					} `json:"signature"`
				} `json:"verificationResult"`
			}
			if err := json.Unmarshal([]byte(out.stdout), &results); err != nil || len(results) != 1 {
				t.Fatalf("gh --format json: %v, %d results:\n%s", err, len(results), out.stdout)
			}
			got := results[0].VerificationResult
			if got.Statement.PredicateType != "https://slsa.dev/provenance/v1" ||
				got.Signature.Certificate.SubjectAlternativeName != wantSAN ||
				got.Signature.Certificate.SourceRepositoryOwnerURI != "https://github.com/acme" {
				t.Errorf("gh verified something else: %+v", got)
			}
			mustRun(t, env, gh, verify(c.artifact, b, "--repo", repo, "--signer-workflow",
				"github.com/acme/widgets/.github/workflows/release.yml", "--deny-self-hosted-runners")...)

			// gh names no cause for a policy or digest mismatch, only the
			// trusted root it used; each case differs from the passing call
			// above in the one flag or file it names.
			const mismatch = `verifying with issuer "Acme Signing"`
			for _, tc := range []struct {
				name, art, reason string
				args              []string
			}{
				{"wrong owner", c.artifact, mismatch, []string{"--owner", "evil"}},
				{"wrong repository", c.artifact, mismatch, []string{"--repo", "acme/gadgets"}},
				{"tampered artifact", c.tampered, mismatch, []string{"--owner", "acme"}},
				{"wrong predicate type", c.artifact, "no attestations found with predicate type",
					[]string{"--owner", "acme", "--predicate-type", "https://spdx.dev/Document/v2.3"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					mustFailWith(t, tc.reason, env, gh, verify(tc.art, b, tc.args...)...)
				})
			}
			wrongIssuer := []string{"attestation", "verify", c.artifact, "--bundle", b, "--custom-trusted-root", tr,
				"--owner", "acme", "--cert-oidc-issuer", "https://token.actions.githubusercontent.com"}
			mustFailWith(t, "expected Issuer to be https://token.actions.githubusercontent.com", env, gh, wrongIssuer...)
		})
	}
}
