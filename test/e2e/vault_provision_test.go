package e2e

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/provision"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/test/vaultdev"
)

// TestVaultInitNestsValidity runs ca init's provisioning against a real
// Vault at one date and rotates years later under the same root: the new
// intermediate and TSA certificate never outlive the root they chain to,
// and a root about to expire is refused rather than used.
func TestVaultInitNestsValidity(t *testing.T) {
	vs := vaultdev.Start(t)
	ctx := context.Background()
	vc, err := vault.Connect(ctx, vault.Config{Address: vs.Addr, Auth: vault.Auth{Token: vs.RootToken}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	at := func(t0 time.Time) func() time.Time { return func() time.Time { return t0 } }
	start := testclock.Now()
	if _, err := provision.Init(ctx, vc, provision.InitOptions{Now: at(start)}); err != nil {
		t.Fatal(err)
	}
	chains := func() (ca, tsa []*x509.Certificate) {
		t.Helper()
		c, ok, err := vc.ReadChain(ctx, "signet/ca-chain")
		if err != nil || !ok {
			t.Fatalf("CA chain: %v, %v", ok, err)
		}
		s, ok, err := vc.ReadChain(ctx, "signet/tsa-chain")
		if err != nil || !ok {
			t.Fatalf("TSA chain: %v, %v", ok, err)
		}
		return c.Chain, s.Chain
	}
	caChain, _ := chains()
	root := caChain[len(caChain)-1]

	// 17 years on, a 5-year intermediate and a 10-year TSA certificate
	// would outlive the 20-year root: both end with it.
	if _, err := provision.Init(ctx, vc, provision.InitOptions{Rotate: true, Now: at(start.AddDate(17, 0, 0))}); err != nil {
		t.Fatal(err)
	}
	caChain, tsaChain := chains()
	if !caChain[len(caChain)-1].Equal(root) || !tsaChain[len(tsaChain)-1].Equal(root) {
		t.Fatal("the rotation did not keep the root")
	}
	if !caChain[0].NotAfter.Equal(root.NotAfter) || !tsaChain[0].NotAfter.Equal(root.NotAfter) {
		t.Errorf("rotated intermediate ends %s, TSA certificate %s: want both capped at the root's %s",
			caChain[0].NotAfter, tsaChain[0].NotAfter, root.NotAfter)
	}

	// Days before the root expires, rotating under it is refused.
	_, err = provision.Init(ctx, vc, provision.InitOptions{Rotate: true, Now: at(root.NotAfter.AddDate(0, 0, -10))})
	if err == nil || !strings.Contains(err.Error(), "expires at") {
		t.Errorf("rotating 10 days before the root expires = %v, want a refusal naming the root's expiry", err)
	}
}

// TestVaultImportRefusesANonCodeSigningChain: an offline root's
// intermediate restricted to TLS usages would make every leaf fail
// verification; ca import-chain refuses it and names why.
func TestVaultImportRefusesANonCodeSigningChain(t *testing.T) {
	vs := vaultdev.Start(t)
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	dir := t.TempDir()
	env := []string{"VAULT_ADDR=" + vs.Addr, "VAULT_TOKEN=" + vs.RootToken}
	configPath, csrPath := filepath.Join(dir, "signet.yaml"), filepath.Join(dir, "ca.csr")
	mustRun(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", configPath, "--external-root", "--csr-out", csrPath)
	csrPEM, err := os.ReadFile(csrPath)
	if err != nil {
		t.Fatal(err)
	}
	chainPath := filepath.Join(dir, "chain.pem")
	tlsOnly := func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if err := os.WriteFile(chainPath, pki.EncodeCertificatesPEM(offlineRootSigns(t, csrPEM, tlsOnly)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFailWith(t, "restricts its extended key usages without codeSigning", env, signetBin, "ca", "import-chain", "--config", configPath, "--chain", chainPath)
}
