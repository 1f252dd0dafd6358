package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVaultTUFRotation: with the CA in Vault, `signet tuf init` puts the
// online TUF key in Vault transit (transit:signet-tuf; the root names its
// public key, no key file exists), and after `signet ca init --rotate` the
// restarted server publishes new targets: a client that keeps its TUF
// cache across the rotation verifies a bundle of the new chain, and one of
// the old chain, with the trusted root it fetched over TUF; cosign does too.
func TestVaultTUFRotation(t *testing.T) {
	s := newVaultSetup(t)
	rootKey, tufRoot := filepath.Join(s.dir, "tuf-root.key"), filepath.Join(s.dir, "tuf-root.json")
	out := mustRun(t, s.env, signetBin, "tuf", "init", "--config", s.configPath, "--root-key", rootKey)
	wantOutput(t, out, "online key transit:signet-tuf", "Wrote the TUF root "+tufRoot)
	if cfg := string(readFile(t, s.configPath)); !strings.Contains(cfg, "key: transit:signet-tuf") {
		t.Fatalf("tuf init did not name the transit key in the config:\n%s", cfg)
	}
	sec, err := s.admin.Logical().Read("transit/keys/signet-tuf")
	if err != nil || sec == nil {
		t.Fatalf("read transit key signet-tuf: %v", err)
	}
	if sec.Data["type"] != "ed25519" || sec.Data["exportable"] != false {
		t.Errorf("signet-tuf is %v (exportable %v), want a non-exportable ed25519 key", sec.Data["type"], sec.Data["exportable"])
	}
	pub, err := base64.StdEncoding.DecodeString(sec.Data["keys"].(map[string]any)["1"].(map[string]any)["public_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readFile(t, tufRoot)), hex.EncodeToString(pub)) {
		t.Error("the TUF root does not name the transit key's public key")
	}

	cache := t.TempDir()
	verify := func(srv *signetServer, bundlePath string) {
		t.Helper()
		mustRun(t, nil, signetBin, "verify", strings.TrimSuffix(bundlePath, ".sigstore.json"), "--bundle", bundlePath,
			"--server", srv.URL, "--tuf-root", tufRoot, "--tuf-cache", cache,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", s.issuer.URL())
	}
	before := s.serve(t)
	oldBundle := signFile(t, before, s.issuer, filepath.Join(s.dir, "old.txt"))
	verify(before, oldBundle)
	v1 := metadataVersion(t, fetch(t, before.URL+"/tuf/timestamp.json"))

	mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--rotate")
	after := s.serve(t)
	newBundle := signFile(t, after, s.issuer, filepath.Join(s.dir, "new.txt"))
	if v2 := metadataVersion(t, fetch(t, after.URL+"/tuf/timestamp.json")); v2 <= v1 {
		t.Fatalf("after the rotation the metadata version is %d, not above %d", v2, v1)
	}
	verify(after, newBundle) // the client followed the new targets
	verify(after, oldBundle) // and the old chain is still in them

	home := t.TempDir()
	env := []string{"HOME=" + home, "TUF_ROOT=" + filepath.Join(home, "tuf")}
	cosign := cosignPath(t)
	mustRun(t, env, cosign, "initialize", "--mirror", after.URL+"/tuf", "--root", tufRoot)
	for _, b := range []string{oldBundle, newBundle} {
		mustRun(t, env, cosign, "verify-blob", strings.TrimSuffix(b, ".sigstore.json"), "--bundle", b,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", s.issuer.URL(),
			"--insecure-ignore-tlog", "--use-signed-timestamps", "--insecure-ignore-sct")
	}
	if _, err := os.Stat(filepath.Join(s.dir, "signet-tuf.key")); err == nil {
		t.Error("a TUF key file was written although the key is in Vault")
	}
}
