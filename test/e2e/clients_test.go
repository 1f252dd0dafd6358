package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/test/oidcmock"
)

// The real clients of issue #5, installed by test/tools/install.sh. A
// missing client fails its test.

func cosignV2Path(t *testing.T) string {
	t.Helper()
	return toolPath(t, "SIGNET_COSIGN_V2", "cosign-v2.6.5/cosign")
}

func ghPath(t *testing.T) string {
	t.Helper()
	return toolPath(t, "SIGNET_GH", "gh-v2.86.0/gh")
}

func sigstoreGoVerifyPath(t *testing.T) string {
	t.Helper()
	return toolPath(t, "SIGNET_SIGSTORE_GO_VERIFY", "sigstore-go-v1.3.0/sigstore-go-verification")
}

func sigstoreGoSignPath(t *testing.T) string {
	t.Helper()
	return toolPath(t, "SIGNET_SIGSTORE_GO_SIGN", "sigstore-go-sign-v1.3.0/sigstore-go-signing")
}

// sigstoreJSDir is the folder holding sigstore-js's node_modules and the
// scripts of test/tools/sigstore-js: $SIGNET_SIGSTORE_JS, else the cache
// folder install.sh names by a hash of those files, computed here the same way.
func sigstoreJSDir(t *testing.T) string {
	t.Helper()
	h := sha256.New()
	for _, name := range []string{"package.json", "package-lock.json", "sign.mjs", "verify.mjs"} {
		b, err := os.ReadFile(filepath.Join("..", "tools", "sigstore-js", name))
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	dir := toolPath(t, "SIGNET_SIGSTORE_JS", "sigstore-js-5.0.1-"+hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "sigstore")); err != nil {
		t.Fatalf("sigstore-js is not installed in %s (%v): run test/tools/install.sh sigstore-js", dir, err)
	}
	return dir
}

func nodePath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: apt-get install nodejs npm")
	}
	return p
}

// slsaPredicate is an SLSA provenance v1 predicate of the release job.
func slsaPredicate(c map[string]any) string {
	s := func(k string) string { return c[k].(string) }
	return `{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1",` +
		`"externalParameters":{"workflow":{"ref":"refs/tags/v1.2.0","repository":"https://github.com/acme/widgets","path":".github/workflows/release.yml"}},` +
		`"internalParameters":{"github":{"event_name":"push","repository_id":"` + s("repository_id") + `","repository_owner_id":"` + s("repository_owner_id") + `","runner_environment":"github-hosted"}},` +
		`"resolvedDependencies":[{"uri":"git+https://github.com/acme/widgets@refs/tags/v1.2.0","digest":{"gitCommit":"` + s("sha") + `"}}]},` +
		`"runDetails":{"builder":{"id":"` + wantSAN + `"},"metadata":{"invocationId":"https://github.com/acme/widgets/actions/runs/` + s("run_id") + `/attempts/1"}}}`
}

// clients is what every client test starts from: a mock GitHub issuer, a
// file-backed signet that trusts it, an artifact, signet's trust documents,
// and the bundles `signet sign` and `signet attest` made over the artifact.
type clients struct {
	iss    *oidcmock.Issuer
	claims map[string]any
	srv    *signetServer
	dir    string
	// runner is the environment of a GitHub Actions job of the mock issuer.
	runner []string

	artifact, tampered         string // the artifact and a modified copy
	trustedRoot, signingConfig string // from /api/v1/trustedroot and /signingconfig
	signetBundle               string // `signet sign` over artifact
	predicate                  string // an SLSA provenance v1 predicate file
	attestation                string // `signet attest` over artifact with predicate
}

// newClients starts the issuer and signet and makes the two signet bundles.
func newClients(t *testing.T) *clients {
	t.Helper()
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	c := &clients{iss: iss, claims: releaseClaims(), dir: t.TempDir()}
	iss.SetRunnerClaims(c.claims)
	configPath, identityPath := fileBackedConfig(t, iss.URL())
	c.srv = startSignet(t, nil, "--config", configPath, "--identity-config", identityPath)
	c.runner = []string{
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + iss.URL() + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + iss.RequestToken(),
	}
	c.artifact = c.write(t, "widget.tar.gz", []byte("the release artifact\n"))
	c.tampered = c.write(t, "tampered.tar.gz", []byte("the release artifact, modified\n"))
	c.trustedRoot = c.write(t, "trusted_root.json", fetch(t, c.srv.URL+"/api/v1/trustedroot"))
	c.signingConfig = c.write(t, "signing_config.json", fetch(t, c.srv.URL+"/api/v1/signingconfig"))
	c.predicate = c.write(t, "provenance.json", []byte(slsaPredicate(c.claims)))

	c.signetBundle = filepath.Join(c.dir, "widget.sigstore.json")
	mustRun(t, c.runner, signetBin, "sign", c.artifact, "--server", c.srv.URL, "--bundle", c.signetBundle)
	c.attestation = filepath.Join(c.dir, "widget.intoto.jsonl")
	mustRun(t, c.runner, signetBin, "attest", c.artifact, "--predicate", c.predicate,
		"--type", "https://slsa.dev/provenance/v1", "--server", c.srv.URL, "--bundle", c.attestation)
	return c
}

// write writes a file into the fixture's folder and returns its path.
func (c *clients) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// token mints a fresh identity token of the release job.
func (c *clients) token(t *testing.T) string {
	t.Helper()
	tok, err := c.iss.Mint(c.claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// path returns a path in the fixture's folder.
func (c *clients) path(name string) string { return filepath.Join(c.dir, name) }

// signetVerify checks a bundle over art with `signet verify`.
func (c *clients) signetVerify(t *testing.T, art, bundlePath string) result {
	t.Helper()
	return mustRun(t, nil, signetBin, "verify", art, "--bundle", bundlePath, "--trusted-root", c.trustedRoot,
		"--certificate-identity", wantSAN, "--certificate-oidc-issuer", c.iss.URL())
}

// mustFailWith runs a command that must fail and say why: its output must
// hold reason.
func mustFailWith(t *testing.T, reason string, env []string, name string, args ...string) {
	t.Helper()
	r := mustFail(t, env, name, args...)
	if !strings.Contains(r.stdout+r.stderr, reason) {
		t.Errorf("%s failed, but not because %q:\nstdout: %s\nstderr: %s", filepath.Base(name), reason, r.stdout, r.stderr)
	}
}

// wantOutput fails the test unless out holds every string of want.
func wantOutput(t *testing.T, r result, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", w, r.stdout, r.stderr)
		}
	}
}

// fetchStatement returns the in-toto statement, the DSSE payload, of a
// DSSE bundle file.
func fetchStatement(t *testing.T, bundlePath string) []byte {
	t.Helper()
	b, err := os.ReadFile(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		DSSEEnvelope struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(b, &v); err != nil || len(v.DSSEEnvelope.Payload) == 0 {
		t.Fatalf("%s is not a DSSE bundle: %v", bundlePath, err)
	}
	return v.DSSEEnvelope.Payload
}

// editJSON writes a copy of a JSON file changed by edit, and returns its path.
func (c *clients) editJSON(t *testing.T, src, name string, edit func(map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	edit(v)
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return c.write(t, name, out)
}

// rootWithoutTSA is signet's trusted root less its timestamp authorities:
// a bundle whose only time evidence is signet's timestamp must fail there.
func (c *clients) rootWithoutTSA(t *testing.T) string {
	return c.editJSON(t, c.trustedRoot, "trusted_root_no_tsa.json", func(v map[string]any) { delete(v, "timestampAuthorities") })
}

// forgedAttestation is signet's attestation bundle with another statement
// (over the tampered artifact) in place of the signed payload.
func (c *clients) forgedAttestation(t *testing.T) string {
	forged, err := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "widget.tar.gz", "digest": map[string]string{"sha256": fileDigest(t, c.tampered)}}},
		"predicateType": "https://slsa.dev/provenance/v1", "predicate": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	return c.editJSON(t, c.attestation, "forged.intoto.jsonl", func(v map[string]any) {
		v["dsseEnvelope"].(map[string]any)["payload"] = forged // []byte: base64, as the bundle wants
	})
}

// fileDigest is the hex SHA-256 of a file.
func fileDigest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
