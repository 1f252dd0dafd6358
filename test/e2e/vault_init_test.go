package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
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

// TestVaultRotate rotates the CA and TSA keys under a live deployment: a
// bundle signed before the rotation still verifies against the trusted
// root served after it, which keeps the old chains for their period.
func TestVaultRotate(t *testing.T) {
	s := newVaultSetup(t)
	before := s.serve(t)
	oldBundle := signFile(t, before, s.issuer, filepath.Join(s.dir, "old.txt"))

	out := mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--rotate")
	if !strings.Contains(out.stdout, "signet-ca v2") || !strings.Contains(out.stdout, "signet-tsa v2") {
		t.Fatalf("rotate did not make version 2 keys: %s", out.stdout)
	}
	cfg, _ := os.ReadFile(s.configPath)
	if strings.Contains(string(cfg), "key-version") {
		t.Errorf("the config pins a key version; replicas must follow the one stored with the chain:\n%s", cfg)
	}
	after := s.serve(t)
	newBundle := signFile(t, after, s.issuer, filepath.Join(s.dir, "new.txt"))
	chain, err := pki.ParseCertificatesPEM(fetch(t, after.URL+"/api/v1/rootCert"))
	if err != nil {
		t.Fatal(err)
	}
	if !pki.SamePublicKey(chain[0].PublicKey, s.transitPublicKey(t, "signet-ca", "2")) {
		t.Error("the served intermediate is not over signet-ca v2")
	}
	trPath := filepath.Join(s.dir, "trusted_root_after.json")
	tr := fetch(t, after.URL+"/api/v1/trustedroot")
	if err := os.WriteFile(trPath, tr, 0o644); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		CAs  []struct{ ValidFor struct{ End string } } `json:"certificateAuthorities"`
		TSAs []json.RawMessage                         `json:"timestampAuthorities"`
	}
	if err := json.Unmarshal(tr, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.CAs) != 2 || doc.CAs[0].ValidFor.End == "" || doc.CAs[1].ValidFor.End != "" || len(doc.TSAs) != 2 {
		t.Errorf("want the rotated-out chain (with an end) and the current one (open), for CA and TSA:\n%s", tr)
	}
	for _, f := range []string{oldBundle, newBundle} {
		art := strings.TrimSuffix(f, ".sigstore.json")
		mustRun(t, nil, signetBin, "verify", art, "--trusted-root", trPath,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", s.issuer.URL())
		mustRun(t, nil, cosignPath(t), "verify-blob", art, "--bundle", f, "--trusted-root", trPath,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", s.issuer.URL(),
			"--insecure-ignore-tlog", "--use-signed-timestamps", "--insecure-ignore-sct")
	}
}

// signFile writes a file, signs it through srv as the runner of iss and
// returns the bundle path.
func signFile(t *testing.T, srv *signetServer, iss *oidcmock.Issuer, path string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("content of "+path), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + iss.URL() + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + iss.RequestToken()}, signetBin, "sign", path, "--server", srv.URL)
	return path + ".sigstore.json"
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
	if err := os.WriteFile(chainPath, pki.EncodeCertificatesPEM(offlineRootSigns(t, csrPEM, nil)), 0o644); err != nil {
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
// the intermediate CA certificate (its template edited by edit, if set),
// returning [intermediate, root].
func offlineRootSigns(t *testing.T, csrPEM []byte, edit func(*x509.Certificate)) []*x509.Certificate {
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
	now := testclock.WallNow().Add(-time.Hour)
	rootTmpl, err := pki.RootTemplate("Acme Signing", "Acme offline root", now, now.AddDate(10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root, err := pki.CreateCertificate(ctx, rootTmpl, nil, rootKey.Public(), pki.LocalSigner{Key: rootKey})
	if err != nil {
		t.Fatal(err)
	}
	interTmpl, err := ca.IntermediateTemplate("Acme Signing", "Acme intermediate", now, now.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(interTmpl)
	}
	inter, err := pki.CreateCertificate(ctx, interTmpl, root, csrs.PublicKey, pki.LocalSigner{Key: rootKey})
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

// TestVaultRefusesASmuggledChain writes a foreign CA chain into KV and then
// the genuine one back, as someone with KV access but no transit key could:
// signet must refuse to put the foreign chain in its trusted root.
func TestVaultRefusesASmuggledChain(t *testing.T) {
	s := newVaultSetup(t)
	ctx := context.Background()
	kv := s.admin.KVv2("secret")
	genuine, err := kv.Get(ctx, "signet/ca-chain")
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := ca.NewMemoryCA(ctx, "Acme Signing", testclock.WallNow(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "signet/ca-chain", map[string]any{
		"chain": string(pki.EncodeCertificatesPEM(rogue.Chain)), "key": "signet-ca", "key_version": 1,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "signet/ca-chain", genuine.Data); err != nil {
		t.Fatal(err)
	}
	r := mustFail(t, s.env, signetBin, "serve", "--config", s.configPath, "--identity-config", s.idPath, "--addr", freeAddr(t))
	if !strings.Contains(r.stderr, "refusing to trust it") {
		t.Errorf("want a refusal naming the smuggled chain, got: %s", r.stderr)
	}
}
