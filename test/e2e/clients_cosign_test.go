package e2e

import (
	"testing"
)

// cosignTrust are the flags by which cosign v2.6 and v3 verify a bundle
// that has a signed timestamp and neither a log entry nor an SCT.
func (c *clients) cosignTrust(identity string) []string {
	return []string{"--trusted-root", c.trustedRoot,
		"--certificate-identity", identity, "--certificate-oidc-issuer", c.iss.URL(),
		"--insecure-ignore-tlog", "--use-signed-timestamps", "--insecure-ignore-sct"}
}

// cosignVerifyBlob is `cosign verify-blob ART --bundle B` with the trust flags.
func (c *clients) cosignVerifyBlob(art, bundlePath, identity string) []string {
	return append([]string{"verify-blob", art, "--bundle", bundlePath}, c.cosignTrust(identity)...)
}

// cosignVerifyAttestation is `cosign verify-blob-attestation` of an SLSA
// provenance v1 attestation with the trust flags.
func (c *clients) cosignVerifyAttestation(art, bundlePath, identity string) []string {
	return append([]string{"verify-blob-attestation", art, "--bundle", bundlePath, "--type", "slsaprovenance1"},
		c.cosignTrust(identity)...)
}

const evilSAN = "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main"

// TestCosignV3Attestations: cosign v3 attests through signet's Fulcio and
// TSA with the signing config, and verifies its own attestations and
// signet's (`signet attest`); a tampered artifact, a wrong identity and a
// wrong predicate type are refused.
func TestCosignV3Attestations(t *testing.T) {
	cosign := cosignPath(t)
	c := newClients(t)
	cosignAtt := c.path("cosign-v3.intoto.sigstore.json")
	mustRun(t, nil, cosign, "attest-blob", c.artifact, "--predicate", c.predicate, "--type", "slsaprovenance1",
		"--signing-config", c.signingConfig, "--trusted-root", c.trustedRoot,
		"--identity-token", c.token(t), "--bundle", cosignAtt, "--yes")

	for _, tc := range []struct{ name, bundle string }{
		{"cosign attest-blob", cosignAtt},
		{"signet attest", c.attestation},
	} {
		b := tc.bundle
		t.Run(tc.name, func(t *testing.T) {
			out := mustRun(t, nil, cosign, c.cosignVerifyAttestation(c.artifact, b, wantSAN)...)
			wantOutput(t, out, "Verified OK")
			mustRun(t, nil, cosign, append(c.cosignVerifyAttestation(c.artifact, b, wantSAN),
				"--certificate-github-workflow-repository", repo, "--certificate-github-workflow-ref", "refs/tags/v1.2.0")...)
			c.signetVerify(t, c.artifact, b)

			mustFailWith(t, "digests do not match", nil, cosign, c.cosignVerifyAttestation(c.tampered, b, wantSAN)...)
			mustFailWith(t, "expected SAN value", nil, cosign, c.cosignVerifyAttestation(c.artifact, b, evilSAN)...)
			wrongType := append(c.cosignVerifyAttestation(c.artifact, b, wantSAN), "--type", "spdxjson")
			mustFailWith(t, "invalid predicate type", nil, cosign, wrongType...)
		})
	}
}

// TestCosignV2 runs cosign v2.6's legacy keyless flow against signet's
// legacy Fulcio v1 API and its TSA, and has cosign v2 verify its own
// bundles and signet's: messages and SLSA attestations.
func TestCosignV2(t *testing.T) {
	cosign := cosignV2Path(t)
	c := newClients(t)
	legacy := []string{"--fulcio-url", c.srv.URL, "--timestamp-server-url", c.srv.URL + "/api/v1/timestamp",
		"--tlog-upload=false", "--insecure-skip-verify", "--new-bundle-format", "--yes"}

	v2Bundle := c.path("cosign-v2.sigstore.json")
	mustRun(t, nil, cosign, append([]string{"sign-blob", c.artifact, "--identity-token", c.token(t),
		"--bundle", v2Bundle}, legacy...)...)
	v2Att := c.path("cosign-v2.intoto.sigstore.json")
	mustRun(t, nil, cosign, append([]string{"attest-blob", c.artifact, "--predicate", c.predicate,
		"--type", "slsaprovenance1", "--identity-token", c.token(t), "--bundle", v2Att}, legacy...)...)

	for _, tc := range []struct {
		name, bundle string
		attestation  bool
	}{
		{"cosign v2 sign-blob", v2Bundle, false},
		{"signet sign", c.signetBundle, false},
		{"cosign v2 attest-blob", v2Att, true},
		{"signet attest", c.attestation, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verify := c.cosignVerifyBlob
			if tc.attestation {
				verify = c.cosignVerifyAttestation
			}
			out := mustRun(t, nil, cosign, verify(c.artifact, tc.bundle, wantSAN)...)
			wantOutput(t, out, "Verified OK")
			mustRun(t, nil, cosign, append(verify(c.artifact, tc.bundle, wantSAN),
				"--certificate-github-workflow-repository", repo, "--certificate-github-workflow-trigger", "push")...)
			c.signetVerify(t, c.artifact, tc.bundle)

			tamperedReason := "invalid signature"
			if tc.attestation {
				tamperedReason = "does not match any digest in statement"
			}
			mustFailWith(t, tamperedReason, nil, cosign, verify(c.tampered, tc.bundle, wantSAN)...)
			mustFailWith(t, "expected SAN value", nil, cosign, verify(c.artifact, tc.bundle, evilSAN)...)
			mustFailWith(t, `expected GithubWorkflowRepository to be "evil/repo"`, nil, cosign, append(verify(c.artifact, tc.bundle, wantSAN),
				"--certificate-github-workflow-repository", "evil/repo")...)
		})
	}
}
