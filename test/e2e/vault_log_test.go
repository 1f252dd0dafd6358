package e2e

import (
	"crypto/ed25519"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/signet-dev/signet/config"
)

// TestVaultTransitLogKey checks that `signet ca init --backend vault`
// gives the issuance log a Vault transit ed25519 checkpoint key: the
// config names it (transit:signet-log), no private key file is written,
// the served verifier key is the transit key's, and `signet audit`
// verifies checkpoints that Vault signed, across a restart.
func TestVaultTransitLogKey(t *testing.T) {
	s := newVaultSetup(t)
	cfg, err := config.Load(s.configPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Key != "transit:signet-log" || cfg.Log.Dir == "" || cfg.Log.Origin == "" {
		t.Fatalf("ca init wrote log %+v, want key transit:signet-log with a dir and an origin", cfg.Log)
	}

	sec, err := s.admin.Logical().Read("transit/keys/signet-log")
	if err != nil || sec == nil {
		t.Fatalf("read transit key signet-log: %v", err)
	}
	if sec.Data["type"] != "ed25519" || sec.Data["exportable"] != false {
		t.Fatalf("transit key signet-log is %v (exportable %v), want a non-exportable ed25519 key", sec.Data["type"], sec.Data["exportable"])
	}
	b64 := sec.Data["keys"].(map[string]any)["1"].(map[string]any)["public_key"].(string)
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		t.Fatalf("transit public key %q: %v", b64, err)
	}
	wantVKey, err := note.NewEd25519VerifierKey(cfg.Log.Origin, ed25519.PublicKey(raw))
	if err != nil {
		t.Fatal(err)
	}

	// A rerun keeps the key and prints its verifier key.
	again := mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--org", "Acme Signing")
	if !strings.Contains(again.stdout, wantVKey) {
		t.Errorf("ca init did not print the transit key's verifier key %s:\n%s", wantVKey, again.stdout)
	}

	t.Run("no private key file", func(t *testing.T) {
		err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasSuffix(p, ".key") {
				t.Errorf("ca init wrote a key file %s", p)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.Contains(string(data), "PRIVATE+KEY") || strings.Contains(string(data), "PRIVATE KEY") {
				t.Errorf("%s holds a private key", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	artifact := filepath.Join(s.dir, "widget.tar.gz")
	if err := os.WriteFile(artifact, []byte("transit-logged artifact\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runner := []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + s.issuer.URL() + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + s.issuer.RequestToken()}
	state := filepath.Join(s.dir, "audit-state")
	for i, name := range []string{"first start", "restart"} {
		t.Run(name, func(t *testing.T) {
			srv := s.serve(t)
			if got := strings.TrimSpace(string(fetch(t, srv.URL+"/api/v1/log/key"))); got != wantVKey {
				t.Fatalf("GET /api/v1/log/key = %q, want the transit key's verifier key %q", got, wantVKey)
			}
			bundlePath := filepath.Join(s.dir, name+".sigstore.json")
			mustRun(t, runner, signetBin, "sign", artifact, "--server", srv.URL, "--bundle", bundlePath)
			if got := auditProve(t, srv.URL, wantVKey, bundlePath); got != uint64(i) {
				t.Errorf("audit prove: entry %d, want %d", got, i)
			}
			r := mustRun(t, nil, signetBin, "audit", "verify", "--server", srv.URL, "--log-key", wantVKey, "--state", state)
			wantOutput(t, r, cfg.Log.Origin+": size ")
		})
		if t.Failed() {
			return
		}
	}
}
