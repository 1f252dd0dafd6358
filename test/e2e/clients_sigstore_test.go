package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSigstoreGoExampleVerifier: sigstore-go's example verifier CLI
// accepts signet's bundles (message and DSSE) and cosign's, made through
// signet, with signet's trusted root and no log or SCT; it refuses a
// tampered artifact and a wrong identity.
func TestSigstoreGoExampleVerifier(t *testing.T) {
	verifier, cosign := sigstoreGoVerifyPath(t), cosignPath(t)
	c := newClients(t)
	cosignBundle := c.path("cosign.sigstore.json")
	mustRun(t, nil, cosign, "sign-blob", c.artifact, "--signing-config", c.signingConfig, "--trusted-root", c.trustedRoot,
		"--identity-token", c.token(t), "--bundle", cosignBundle, "--yes")

	args := func(art, bundlePath, san string) []string {
		return []string{"-trustedrootJSONpath", c.trustedRoot, "-requireCTlog=false", "-requireTlog=false",
			"-expectedIssuer", c.iss.URL(), "-expectedSAN", san, "-artifact", art, bundlePath}
	}
	for _, tc := range []struct{ name, bundle string }{
		{"signet sign", c.signetBundle},
		{"signet attest", c.attestation},
		{"cosign sign-blob", cosignBundle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mustRun(t, nil, verifier, args(c.artifact, tc.bundle, wantSAN)...)
			wantOutput(t, out, "Verification successful!", `"subjectAlternativeName": "`+wantSAN+`"`,
				`"sourceRepositoryOwnerURI": "https://github.com/acme"`)
			mustFailWith(t, "expected SAN value", nil, verifier, args(c.artifact, tc.bundle, evilSAN)...)
			tampered := "failed to verify signature"
			if tc.bundle == c.attestation {
				tampered = "digests do not match digests in statement"
			}
			mustFailWith(t, tampered, nil, verifier, args(c.tampered, tc.bundle, wantSAN)...)
			noTSA := append([]string{"-trustedrootJSONpath", c.rootWithoutTSA(t)}, args(c.artifact, tc.bundle, wantSAN)[2:]...)
			mustFailWith(t, "threshold not met", nil, verifier, noTSA...)
		})
	}
	t.Run("forged DSSE payload", func(t *testing.T) {
		mustFailWith(t, "could not verify envelope", nil, verifier, args(c.tampered, c.forgedAttestation(t), wantSAN)...)
	})
}

// TestSigstoreGoExampleSigner: sigstore-go's example signing CLI signs
// through signet's Fulcio v2 and TSA, chosen from signet's signing config,
// blobs and in-toto statements; cosign, sigstore-go and signet verify them.
func TestSigstoreGoExampleSigner(t *testing.T) {
	signer, verifier, cosign := sigstoreGoSignPath(t), sigstoreGoVerifyPath(t), cosignPath(t)
	c := newClients(t)
	statement := c.write(t, "statement.json", fetchStatement(t, c.attestation))
	for _, tc := range []struct {
		name, file string
		extra      []string
	}{
		{"blob", c.artifact, nil},
		{"in-toto statement", statement, []string{"-in-toto"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-id-token", c.token(t), "-tsa", "-signing-config", c.signingConfig,
				"-trusted-root", c.trustedRoot}, tc.extra...)
			out := mustRun(t, nil, signer, append(args, tc.file)...)
			lines := strings.Split(strings.TrimSpace(out.stdout), "\n")
			b := c.write(t, "sigstore-go-"+strings.ReplaceAll(tc.name, " ", "-")+".sigstore.json", []byte(lines[len(lines)-1]))
			c.signetVerify(t, c.artifact, b)
			mustRun(t, nil, verifier, "-trustedrootJSONpath", c.trustedRoot, "-requireCTlog=false", "-requireTlog=false",
				"-expectedIssuer", c.iss.URL(), "-expectedSAN", wantSAN, "-artifact", c.artifact, b)
			if tc.extra == nil {
				mustRun(t, nil, cosign, c.cosignVerifyBlob(c.artifact, b, wantSAN)...)
			} else {
				mustRun(t, nil, cosign, c.cosignVerifyAttestation(c.artifact, b, wantSAN)...)
			}
			mustFail(t, nil, signetBin, "verify", c.tampered, "--bundle", b, "--trusted-root", c.trustedRoot,
				"--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL())
		})
	}
}

// sigstoreJSVerify is `node verify.mjs` of test/tools/sigstore-js.
func (c *clients) sigstoreJSVerify(dir, art, bundlePath, san string) []string {
	a := []string{filepath.Join(dir, "verify.mjs"), "--bundle", bundlePath, "--trusted-root", c.trustedRoot,
		"--identity", san, "--issuer", c.iss.URL()}
	if art != "" {
		a = append(a, "--artifact", art)
	}
	return a
}

// TestSigstoreJS: sigstore-js (@sigstore/verify with signet's trusted
// root) verifies signet's bundles and refuses a tampered artifact or a
// wrong identity; sigstore-js signs and attests through signet's Fulcio
// and TSA URLs, and signet, cosign and sigstore-js verify the result.
func TestSigstoreJS(t *testing.T) {
	node, dir, cosign := nodePath(t), sigstoreJSDir(t), cosignPath(t)
	c := newClients(t)

	t.Run("verify signet's bundles", func(t *testing.T) {
		out := mustRun(t, nil, node, c.sigstoreJSVerify(dir, c.artifact, c.signetBundle, wantSAN)...)
		wantOutput(t, out, "verified: "+wantSAN)
		mustRun(t, nil, node, c.sigstoreJSVerify(dir, "", c.attestation, wantSAN)...)
		mustFailWith(t, "signature verification failed", nil, node, c.sigstoreJSVerify(dir, c.tampered, c.signetBundle, wantSAN)...)
		mustFailWith(t, "certificate identity error", nil, node, c.sigstoreJSVerify(dir, c.artifact, c.signetBundle, evilSAN)...)
		wrongIssuer := append(c.sigstoreJSVerify(dir, c.artifact, c.signetBundle, wantSAN), "--issuer", "https://token.actions.githubusercontent.com")
		mustFailWith(t, "expected issuer=https://token.actions.githubusercontent.com", nil, node, wrongIssuer...)
		noTSA := append(c.sigstoreJSVerify(dir, c.artifact, c.signetBundle, wantSAN), "--trusted-root", c.rootWithoutTSA(t))
		mustFailWith(t, "VerificationError", nil, node, noTSA...)
		mustFailWith(t, "signature verification failed", nil, node, c.sigstoreJSVerify(dir, "", c.forgedAttestation(t), wantSAN)...)
	})

	t.Run("sign through signet", func(t *testing.T) {
		sign := []string{filepath.Join(dir, "sign.mjs"), "--fulcio", c.srv.URL, "--tsa", c.srv.URL}
		jsBundle := c.path("js.sigstore.json")
		mustRun(t, nil, node, append(sign, "--token", c.token(t), "--out", jsBundle, c.artifact)...)
		mustRun(t, nil, node, c.sigstoreJSVerify(dir, c.artifact, jsBundle, wantSAN)...)
		c.signetVerify(t, c.artifact, jsBundle)
		mustRun(t, nil, cosign, c.cosignVerifyBlob(c.artifact, jsBundle, wantSAN)...)
		mustFail(t, nil, node, c.sigstoreJSVerify(dir, c.tampered, jsBundle, wantSAN)...)

		statement := c.write(t, "statement.json", fetchStatement(t, c.attestation))
		jsAtt := c.path("js.intoto.sigstore.json")
		mustRun(t, nil, node, append(sign, "--token", c.token(t), "--out", jsAtt,
			"--payload-type", "application/vnd.in-toto+json", statement)...)
		mustRun(t, nil, node, c.sigstoreJSVerify(dir, "", jsAtt, wantSAN)...)
		c.signetVerify(t, c.artifact, jsAtt)
		mustRun(t, nil, cosign, c.cosignVerifyAttestation(c.artifact, jsAtt, wantSAN)...)
	})
}
