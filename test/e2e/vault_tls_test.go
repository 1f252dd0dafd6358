package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/vaultdev"
)

// TestVaultOverTLS talks to a Vault that serves HTTPS with its own CA:
// without trusting that CA signet refuses; with it (VAULT_CACERT for ca
// init, which writes it to the config as vault.ca-cert for serve) signing works.
func TestVaultOverTLS(t *testing.T) {
	vs := vaultdev.StartTLS(t)
	if !strings.HasPrefix(vs.Addr, "https://") || vs.CACert == "" {
		t.Fatalf("not a TLS server: %s %q", vs.Addr, vs.CACert)
	}
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	iss.SetRunnerClaims(releaseClaims())
	dir := t.TempDir()
	configPath := filepath.Join(dir, "signet.yaml")
	env := []string{"VAULT_ADDR=" + vs.Addr, "VAULT_TOKEN=" + vs.RootToken}
	r := mustFail(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", configPath)
	if !strings.Contains(r.stderr, "certificate") {
		t.Errorf("want a TLS verification error, got: %s", r.stderr)
	}
	mustRun(t, append(env, "VAULT_CACERT="+vs.CACert), signetBin, "ca", "init", "--backend", "vault", "--out", configPath)
	cfg, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "ca-cert: "+vs.CACert) {
		t.Errorf("ca init did not keep VAULT_CACERT as vault.ca-cert:\n%s", cfg)
	}
	idPath := filepath.Join(dir, "identity.yaml")
	if err := os.WriteFile(idPath, []byte("oidc-issuers:\n  "+iss.URL()+":\n    client-id: sigstore\n    type: github-workflow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startSignet(t, []string{"VAULT_TOKEN=" + vs.RootToken}, "--config", configPath, "--identity-config", idPath)
	signAndVerify(t, srv, iss, dir)
}
