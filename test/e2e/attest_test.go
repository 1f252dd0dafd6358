package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestSignetAttest: `signet attest` writes a one-line DSSE bundle whose
// in-toto statement names the file by its SHA-256 and carries the
// predicate as given; `signet verify` checks it against the file and
// prints the statement; bad predicates are refused before signing.
func TestSignetAttest(t *testing.T) {
	c := newClients(t)

	raw, err := os.ReadFile(c.attestation)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(raw, []byte("\n")) != 1 || raw[len(raw)-1] != '\n' {
		t.Errorf("bundle is not one JSON line:\n%s", raw)
	}
	var st struct {
		Type    string `json:"_type"`
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(fetchStatement(t, c.attestation), &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://slsa.dev/provenance/v1" ||
		len(st.Subject) != 1 || st.Subject[0].Name != "widget.tar.gz" || st.Subject[0].Digest["sha256"] != fileDigest(t, c.artifact) {
		t.Errorf("statement: %+v", st)
	}
	var got, want any
	_ = json.Unmarshal(st.Predicate, &got)
	_ = json.Unmarshal([]byte(slsaPredicate(c.claims)), &want)
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("predicate changed:\n got %s\nwant %s", g, w)
	}

	out := mustRun(t, nil, signetBin, "verify", c.artifact, "--bundle", c.attestation, "--trusted-root", c.trustedRoot,
		"--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL(), "--print-statement")
	wantOutput(t, out, "Verified OK", "statement type: https://in-toto.io/Statement/v1",
		"predicate type: https://slsa.dev/provenance/v1", "SourceRepositoryOwnerURI: https://github.com/acme")
	mustFailWith(t, "verification failed", nil, signetBin, "verify", c.tampered, "--bundle", c.attestation,
		"--trusted-root", c.trustedRoot, "--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL())

	t.Run("custom predicate type", func(t *testing.T) {
		pred := c.write(t, "result.json", []byte(`{"passed": true, "suite": "unit"}`))
		b := c.path("result.intoto.jsonl")
		out := mustRun(t, c.runner, signetBin, "attest", c.artifact, "--predicate", pred,
			"--type", "https://example.com/test-result/v1", "--server", c.srv.URL, "--bundle", b)
		wantOutput(t, out, "Attested to", wantSAN, "https://example.com/test-result/v1")
		out = mustRun(t, nil, signetBin, "verify", c.artifact, "--bundle", b, "--trusted-root", c.trustedRoot,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL(), "--print-statement")
		wantOutput(t, out, "predicate type: https://example.com/test-result/v1")
		// --type requires the predicate type: a test result is not provenance.
		mustRun(t, nil, signetBin, "verify", c.artifact, "--bundle", b, "--trusted-root", c.trustedRoot,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL(), "--type", "https://example.com/test-result/v1")
		mustFailWith(t, `the bundle holds predicate type "https://example.com/test-result/v1", want an attestation of predicate type https://slsa.dev/provenance/v1`,
			nil, signetBin, "verify", c.artifact, "--bundle", b, "--trusted-root", c.trustedRoot,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL(), "--type", "https://slsa.dev/provenance/v1")
	})

	// A predicate too large for the one-shot endpoint's 512 KiB body (an
	// SBOM of a big monorepo) is signed through the Fulcio and timestamp
	// APIs without being sent, and verifies with signet and cosign alike.
	t.Run("large SBOM", func(t *testing.T) {
		pred := c.write(t, "sbom.spdx.json", []byte(`{"spdxVersion": "SPDX-2.3", "packages": "`+strings.Repeat("p", 3<<20)+`"}`))
		b := c.path("sbom.intoto.jsonl")
		out := mustRun(t, c.runner, signetBin, "attest", c.artifact, "--predicate", pred,
			"--type", "https://spdx.dev/Document", "--server", c.srv.URL, "--bundle", b)
		wantOutput(t, out, "Attested to", wantSAN, "https://spdx.dev/Document", "Log index: ")
		out = mustRun(t, nil, signetBin, "verify", c.artifact, "--bundle", b, "--trusted-root", c.trustedRoot,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL(), "--type", "https://spdx.dev/Document")
		wantOutput(t, out, "Verified OK")
		out = mustRun(t, nil, cosignPath(t), append([]string{"verify-blob-attestation", c.artifact, "--bundle", b,
			"--type", "https://spdx.dev/Document"}, c.cosignTrust(wantSAN)...)...)
		wantOutput(t, out, "Verified OK")
		mustFailWith(t, "verification failed", nil, signetBin, "verify", c.tampered, "--bundle", b,
			"--trusted-root", c.trustedRoot, "--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL())
	})

	for _, tc := range []struct{ name, predicate, reason string }{
		{"array predicate", `[1, 2]`, "predicate is not a JSON object"},
		{"not JSON", `{"a": `, "predicate is not a JSON object"},
		{"null predicate", `null`, "predicate is not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pred := c.write(t, "bad.json", []byte(tc.predicate))
			b := c.path("bad.intoto.jsonl")
			mustFailWith(t, tc.reason, c.runner, signetBin, "attest", c.artifact, "--predicate", pred, "--server", c.srv.URL, "--bundle", b)
			if _, err := os.Stat(b); !os.IsNotExist(err) {
				t.Errorf("a refused attestation left %s behind", b)
			}
		})
	}
	mustFailWith(t, "required flag(s) \"predicate\" not set", c.runner, signetBin, "attest", c.artifact, "--server", c.srv.URL)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
