package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/test/vaultdev"
)

// TestVaultInitRerunKeepsConfiguredKeys: `ca init` on a config that names
// its own transit keys and chain paths creates and keeps those, run once
// or again, instead of moving the deployment to the default names; and a
// rerun refuses, rather than calling unchanged, a chain whose key was
// deleted and made again under the same name (no replica could start).
func TestVaultInitRerunKeepsConfiguredKeys(t *testing.T) {
	vs, _ := startVaultAndIssuer(t)
	env := []string{"VAULT_ADDR=" + vs.Addr, "VAULT_TOKEN=" + vs.RootToken}
	cfgPath := filepath.Join(t.TempDir(), "signet.yaml")
	custom := "ca:\n  type: vault\n  key: team-ca\n  chain-path: team/ca-chain\n" +
		"tsa:\n  type: vault\n  key: team-tsa\n  chain-path: team/tsa-chain\n"
	if err := os.WriteFile(cfgPath, []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	names := []string{"key: team-ca\n", "chain-path: team/ca-chain\n", "key: team-tsa\n", "chain-path: team/tsa-chain\n"}
	for i, want := range []string{"Vault setup created: CA key team-ca v1 (chain team/ca-chain), TSA key team-tsa v1 (chain team/tsa-chain)",
		"Vault setup unchanged: CA key team-ca v1 (chain team/ca-chain), TSA key team-tsa v1 (chain team/tsa-chain)"} {
		r := mustRun(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", cfgPath)
		if !strings.Contains(r.stdout, want) {
			t.Errorf("run %d of ca init said:\n%s\nwant %q", i+1, r.stdout, want)
		}
		written := string(readFile(t, cfgPath))
		for _, n := range names {
			if !strings.Contains(written, n) {
				t.Errorf("run %d of ca init wrote a config without %q:\n%s", i+1, strings.TrimSpace(n), written)
			}
		}
	}
	vaultCLI(t, env, "read", "-field=name", "transit/keys/team-ca")
	mustFailWith(t, "No value found", env, vaultBin(t), "read", "transit/keys/signet-ca")

	// The CA key deleted and made again: same name, another public key.
	vaultCLI(t, env, "write", "transit/keys/team-ca/config", "deletion_allowed=true")
	vaultCLI(t, env, "delete", "transit/keys/team-ca")
	vaultCLI(t, env, "write", "transit/keys/team-ca", "type=ecdsa-p384")
	mustFailWith(t, "the chain at team/ca-chain certifies another key than transit key team-ca version 1", env,
		signetBin, "ca", "init", "--backend", "vault", "--out", cfgPath)
}

// vaultBin is the vault binary the tests run.
func vaultBin(t *testing.T) string {
	t.Helper()
	bin, err := vaultdev.Binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// vaultCLI runs the vault CLI with env (VAULT_ADDR, VAULT_TOKEN) and
// fails the test if it fails.
func vaultCLI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	return mustRun(t, env, vaultBin(t), args...).stdout
}

// TestVaultInitLeavesAMemoryTSAAlone: on a config whose CA is in Vault and
// whose TSA is a memory key, ca init --external-root makes and asks for
// nothing of the TSA's: no transit key, no CSR, the config's TSA kept.
func TestVaultInitLeavesAMemoryTSAAlone(t *testing.T) {
	vs, _ := startVaultAndIssuer(t)
	env := []string{"VAULT_ADDR=" + vs.Addr, "VAULT_TOKEN=" + vs.RootToken}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfgPath, []byte("ca:\n  type: vault\ntsa:\n  type: memory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tsaCSR := filepath.Join(dir, "tsa.csr")
	r := mustRun(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", cfgPath, "--external-root",
		"--csr-out", filepath.Join(dir, "ca.csr"), "--tsa-csr-out", tsaCSR)
	if !strings.Contains(r.stdout, "CA key signet-ca v1: CSR written") || !strings.Contains(r.stdout, "TSA kept as the config's memory key") ||
		strings.Contains(r.stdout, "TSA key") {
		t.Errorf("ca init said:\n%s", r.stdout)
	}
	if _, err := os.Stat(tsaCSR); !os.IsNotExist(err) {
		t.Errorf("a TSA CSR was written for a memory TSA (%v)", err)
	}
	mustFailWith(t, "No value found", env, vaultBin(t), "read", "transit/keys/signet-tsa")
	if cfg := string(readFile(t, cfgPath)); !strings.Contains(cfg, "tsa:\n  type: memory\n") {
		t.Errorf("ca init rewrote the memory TSA:\n%s", cfg)
	}
}
