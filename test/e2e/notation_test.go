package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/test/testclock"
)

func notationPath(t *testing.T) string {
	return toolPath(t, "SIGNET_NOTATION", "notation-v1.3.2/notation")
}

// writeOCILayout writes a one-image OCI image layout tagged tag and
// returns the manifest's digest.
func writeOCILayout(t *testing.T, dir, tag string) string {
	t.Helper()
	blob := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		d := hex.EncodeToString(sum[:])
		p := filepath.Join(dir, "blobs", "sha256", d)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + d, len(b)
	}
	cfgDigest, cfgSize := blob([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	layerDigest, layerSize := blob([]byte("a layer signed with signet's timestamps\n"))
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgDigest, "size": cfgSize},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layerDigest, "size": layerSize}},
	})
	mDigest, mSize := blob(manifest)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mDigest, "size": mSize,
			"annotations": map[string]string{"org.opencontainers.image.ref.name": tag}}},
	})
	for name, data := range map[string][]byte{"index.json": index, "oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return mDigest
}

// TestNotationTimestampsWithSignet: the real notation CLI (v1.3.2) signs an
// OCI image layout with its own test key and an RFC 3161 countersignature
// from signet's TSA, and verifies it with a trust policy that requires the
// timestamp (verifyTimestamp: always) against signet's TSA root; with
// another TSA root in the trust store, verification fails.
func TestNotationTimestampsWithSignet(t *testing.T) {
	notation := notationPath(t)
	srv := startSignet(t, nil, "--dev")
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "NOTATION_EXPERIMENTAL=1"}

	mustRun(t, env, notation, "cert", "generate-test", "--default", "signet-test")
	minted := testclock.WallNow() // notation compares its key's notBefore with the wall clock

	chain, err := pki.ParseCertificatesPEM(fetch(t, srv.URL+"/api/v1/timestamp/certchain"))
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := filepath.Join(home, "tsa-root.pem")
	if err := os.WriteFile(rootPEM, pki.EncodeCertificatesPEM(chain[len(chain)-1:]), 0o644); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(home, "layout")
	digest := writeOCILayout(t, layout, "v1")

	// notation refuses a timestamp whose accuracy window starts before the
	// signing certificate's notBefore: never sign in the second the test
	// key was minted.
	if wait := time.Second + 100*time.Millisecond - testclock.WallNow().Sub(minted); wait > 0 {
		time.Sleep(wait)
	}
	out := mustRun(t, env, notation, "sign", "--oci-layout", layout+":v1",
		"--timestamp-url", srv.URL+"/api/v1/timestamp", "--timestamp-root-cert", rootPEM)
	wantOutput(t, out, "Successfully signed", digest)

	policy := func(tsaStore string) string {
		p := filepath.Join(home, tsaStore+"-policy.json")
		doc, _ := json.Marshal(map[string]any{"version": "1.0", "trustPolicies": []any{map[string]any{
			"name": "signet", "registryScopes": []string{"*"},
			"signatureVerification": map[string]any{"level": "strict", "verifyTimestamp": "always"},
			"trustStores":           []string{"ca:signet-test", "tsa:" + tsaStore},
			"trustedIdentities":     []string{"*"},
		}}})
		if err := os.WriteFile(p, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mustRun(t, env, notation, "cert", "add", "--type", "tsa", "--store", "signet-tsa", rootPEM)
	mustRun(t, env, notation, "policy", "import", "--force", policy("signet-tsa"))
	out = mustRun(t, env, notation, "verify", "--oci-layout", layout+":v1", "--scope", "local/signet")
	wantOutput(t, out, "Successfully verified", digest)

	// Another TSA root: the countersignature no longer chains, and
	// verifyTimestamp: always makes that fatal.
	other := startSignet(t, nil, "--dev")
	otherChain, err := pki.ParseCertificatesPEM(fetch(t, other.URL+"/api/v1/timestamp/certchain"))
	if err != nil {
		t.Fatal(err)
	}
	otherPEM := filepath.Join(home, "other-root.pem")
	if err := os.WriteFile(otherPEM, pki.EncodeCertificatesPEM(otherChain[len(otherChain)-1:]), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, notation, "cert", "add", "--type", "tsa", "--store", "other-tsa", otherPEM)
	mustRun(t, env, notation, "policy", "import", "--force", policy("other-tsa"))
	r := mustFail(t, env, notation, "verify", "--oci-layout", layout+":v1", "--scope", "local/signet")
	if msg := r.stdout + r.stderr; !strings.Contains(strings.ToLower(msg), "timestamp") {
		t.Errorf("notation refused for another reason than the timestamp:\n%s", msg)
	}
}
