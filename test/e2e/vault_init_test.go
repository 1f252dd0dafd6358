package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/vaultdev"
)

// signAndVerify signs a file through srv as the runner of iss and
// verifies the bundle with signet verify against the served trusted root.
func signAndVerify(t *testing.T, srv *signetServer, iss *oidcmock.Issuer, dir string) {
	t.Helper()
	artifact := filepath.Join(dir, "artifact.txt")
	if err := os.WriteFile(artifact, []byte("content "+time.Now().String()), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + iss.URL() + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + iss.RequestToken()}, signetBin, "sign", artifact, "--server", srv.URL)
	mustRun(t, nil, signetBin, "verify", artifact, "--server", srv.URL,
		"--certificate-identity", wantSAN, "--certificate-oidc-issuer", iss.URL())
}

func TestVaultRotate(t *testing.T) {
	s := newVaultSetup(t)
	out := mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--rotate")
	if !strings.Contains(out.stdout, "signet-ca v2") || !strings.Contains(out.stdout, "signet-tsa v2") {
		t.Fatalf("rotate did not make version 2 keys: %s", out.stdout)
	}
	cfg, _ := os.ReadFile(s.configPath)
	if !strings.Contains(string(cfg), "key-version: 2") {
		t.Errorf("config not updated to the new key version:\n%s", cfg)
	}
	srv := s.serve(t)
	signAndVerify(t, srv, s.issuer, s.dir)
	chain, err := ca.ParseCertificatesPEM(fetch(t, srv.URL+"/api/v1/rootCert"))
	if err != nil {
		t.Fatal(err)
	}
	if !ca.SamePublicKey(chain[0].PublicKey, s.transitPublicKey(t, "signet-ca", "2")) {
		t.Error("the served intermediate is not over signet-ca v2")
	}
}

// TestVaultExternalRoot bootstraps the CA key for an offline root: the CSR
// is signed outside Vault and imported, then signet signs with it.
func TestVaultExternalRoot(t *testing.T) {
	vs := vaultdev.Start(t)
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	iss.SetRunnerClaims(releaseClaims())
	dir := t.TempDir()
	env := []string{"VAULT_ADDR=" + vs.Addr, "VAULT_TOKEN=" + vs.RootToken}
	configPath, csrPath := filepath.Join(dir, "signet.yaml"), filepath.Join(dir, "ca.csr")
	mustRun(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", configPath, "--external-root", "--csr-out", csrPath, "--org", "Acme Signing")
	csrPEM, err := os.ReadFile(csrPath)
	if err != nil {
		t.Fatal(err)
	}
	chainPath := filepath.Join(dir, "chain.pem")
	if err := os.WriteFile(chainPath, ca.EncodeCertificatesPEM(offlineRootSigns(t, csrPEM)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFail(t, env, signetBin, "ca", "import-chain", "--config", configPath, "--chain", csrPath)
	mustRun(t, env, signetBin, "ca", "import-chain", "--config", configPath, "--chain", chainPath)
	idPath := filepath.Join(dir, "identity.yaml")
	if err := os.WriteFile(idPath, []byte("oidc-issuers:\n  "+iss.URL()+":\n    client-id: sigstore\n    type: github-workflow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startSignet(t, env, "--config", configPath, "--identity-config", idPath)
	signAndVerify(t, srv, iss, dir)
}

// offlineRootSigns plays the offline root: it checks the CSR and issues
// the intermediate CA certificate, returning [intermediate, root].
func offlineRootSigns(t *testing.T, csrPEM []byte) []*x509.Certificate {
	t.Helper()
	csrs, err := parseCSRPEM(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := csrs.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour)
	rootTmpl, err := ca.RootTemplate("Acme Signing", "Acme offline root", now, now.AddDate(10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root, err := ca.Sign(ctx, rootTmpl, nil, rootKey.Public(), ca.LocalSigner{Key: rootKey})
	if err != nil {
		t.Fatal(err)
	}
	interTmpl, err := ca.IntermediateTemplate("Acme Signing", "Acme intermediate", now, now.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	inter, err := ca.Sign(ctx, interTmpl, root, csrs.PublicKey, ca.LocalSigner{Key: rootKey})
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{inter, root}
}

func parseCSRPEM(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM CSR")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}
