package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
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

// TestVaultSealedAtStartTUFRefused: a server that starts while Vault is
// sealed opens its TUF repository once Vault answers; when that fails
// (here the configured online key is not the one the root names), which
// at start would have stopped the server, /readyz says so and /tuf/
// answers 503 naming no cause, the server's log names it as an error, and
// signing, which needs no TUF, goes on.
func TestVaultSealedAtStartTUFRefused(t *testing.T) {
	s := newVaultSetup(t)
	mustRun(t, s.env, signetBin, "tuf", "init", "--config", s.configPath, "--root-key", filepath.Join(s.dir, "tuf-root.key"))
	if _, err := s.admin.Logical().Write("transit/keys/other-tuf", map[string]any{"type": "ed25519"}); err != nil {
		t.Fatal(err)
	}
	s.editConfig(t, func(c map[string]any) { c["tuf"].(map[string]any)["key"] = "transit:other-tuf" })
	p := s.startWhileSealed(t)
	const want = "the TUF repository did not open"
	waitReadyzSays(t, p.URL, want)
	if code, _ := get(t, p.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz: %d, want 503", code)
	}
	if code, body := get(t, p.URL+"/tuf/timestamp.json"); code != http.StatusServiceUnavailable || !strings.Contains(string(body), want) ||
		strings.Contains(string(body), "other-tuf") {
		t.Errorf("/tuf/timestamp.json: %d %s, want 503 saying %q without the cause", code, body, want)
	}
	tok, err := s.issuer.Mint(releaseClaims())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := postSign(t, p.URL, tok); status != http.StatusOK {
		t.Errorf("signing: %d %s, want 200: the CA and TSA are loaded", status, body)
	}
	if out := p.output(); !strings.Contains(out, `"level":"ERROR","msg":"the TUF repository did not open; not ready, retrying"`) {
		t.Errorf("the server log does not name the TUF repository's refusal as an error:\n%s", logDigest(out))
	}
}

// TestVaultTUFOnlineKeyRotatedInVault: a new version of the transit TUF
// key (rotated by hand, or by Vault's auto_rotate_period) does not take
// over before a root names it: a restarted server keeps signing with the
// version its root lists; `signet tuf rotate-root --online-key
// transit:signet-tuf` then names the new version, and a client pinned to
// version 1 follows.
func TestVaultTUFOnlineKeyRotatedInVault(t *testing.T) {
	s := newVaultSetup(t)
	rootKey := filepath.Join(s.dir, "tuf-root.key")
	mustRun(t, s.env, signetBin, "tuf", "init", "--config", s.configPath, "--root-key", rootKey)
	pinned := filepath.Join(s.dir, "pinned.json")
	if err := os.WriteFile(pinned, readFile(t, filepath.Join(s.dir, "tuf-root.json")), 0o644); err != nil {
		t.Fatal(err)
	}
	first := s.serve(t)
	bundle := signFile(t, first, s.issuer, filepath.Join(s.dir, "a.txt"))
	cache := t.TempDir()
	verify := func(srv *signetServer) {
		t.Helper()
		mustRun(t, nil, signetBin, "verify", strings.TrimSuffix(bundle, ".sigstore.json"), "--bundle", bundle, "--server", srv.URL,
			"--tuf-root", pinned, "--tuf-cache", cache, "--certificate-identity", wantSAN, "--certificate-oidc-issuer", s.issuer.URL())
	}
	verify(first)
	if _, err := s.admin.Logical().Write("transit/keys/signet-tuf/rotate", nil); err != nil {
		t.Fatal(err)
	}
	verify(s.serve(t)) // still version 1 of the key, which the root names

	out := mustRun(t, s.env, signetBin, "tuf", "rotate-root", "--config", s.configPath, "--root-key", rootKey, "--online-key", "transit:signet-tuf")
	wantOutput(t, out, "Wrote TUF root version 2")
	sec, err := s.admin.Logical().Read("transit/keys/signet-tuf")
	if err != nil || sec == nil {
		t.Fatalf("read transit key signet-tuf: %v", err)
	}
	pub, err := base64.StdEncoding.DecodeString(sec.Data["keys"].(map[string]any)["2"].(map[string]any)["public_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readFile(t, filepath.Join(s.dir, "tuf-root.json"))), hex.EncodeToString(pub)) {
		t.Fatal("root version 2 does not name version 2 of the transit key")
	}
	verify(s.serve(t))
}
