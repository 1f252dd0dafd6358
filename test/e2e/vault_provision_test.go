package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/ca/vault"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/provision"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/test/vaultdev"
	"github.com/signet-dev/signet/tsa"
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
	e := newExternalRoot(t, "Acme Signing")
	tlsOnly := func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	chainPath := e.writeChain(t, newOfflineRoot(t).sign(t, e.csrPEM, 5*365*24*time.Hour, tlsOnly))
	mustFailWith(t, "restricts its extended key usages without codeSigning", e.env, signetBin, "ca", "import-chain", "--config", e.configPath, "--chain", chainPath)
}

// TestVaultReimportedChainIsFollowed: the offline root signs the CA key's
// intermediate again (a new validity) and `ca import-chain` stores it for
// the same transit key version: a running replica issues under the new
// certificate within its refresh interval, without a restart, and keeps
// the first one in its trusted root.
func TestVaultReimportedChainIsFollowed(t *testing.T) {
	e := newExternalRoot(t, "Acme Signing")
	root := newOfflineRoot(t)
	first, second := root.sign(t, e.csrPEM, 24*time.Hour, nil), root.sign(t, e.csrPEM, 48*time.Hour, nil)
	importChain := func(chain []*x509.Certificate) {
		t.Helper()
		mustRun(t, e.env, signetBin, "ca", "import-chain", "--config", e.configPath, "--chain", e.writeChain(t, chain))
	}
	importChain(first)
	e.importTSA(t, root)
	(&vaultSetup{configPath: e.configPath}).editConfig(t, func(c map[string]any) {
		c["log"] = map[string]any{"type": "off"}
		v := c["vault"].(map[string]any)
		v["refresh-interval"], v["activation-delay"] = "1s", "0s"
	})
	p := startServerEnv(t, e.env, "--config", e.configPath, "--identity-config", e.writeIdentity(t))
	if !issuingCA(t, p.URL).Equal(first[0]) {
		t.Fatal("the replica does not issue under the imported intermediate")
	}
	importChain(second)
	mustWaitFor(t, 10*time.Second, func() bool { return issuingCA(t, p.URL).Equal(second[0]) })
	if n := caAuthorities(t, p.URL); n != 2 {
		t.Errorf("the trusted root lists %d CA chains after the re-import, want the first one kept too", n)
	}
}

// offlineRoot is an offline root CA that signs the CA key's CSR, more than
// once under the same root.
type offlineRoot struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newOfflineRoot(t *testing.T) offlineRoot {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := testclock.WallNow().Add(-time.Hour)
	tmpl, err := pki.RootTemplate("Acme Signing", "Acme offline root", now, now.AddDate(10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.CreateCertificate(context.Background(), tmpl, nil, key.Public(), pki.LocalSigner{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return offlineRoot{key: key, cert: cert}
}

// sign checks the CSR and issues the intermediate for its key, valid for
// lifetime, its template edited by edit if set; it returns
// [intermediate, root].
func (r offlineRoot) sign(t *testing.T, csrPEM []byte, lifetime time.Duration, edit func(*x509.Certificate)) []*x509.Certificate {
	t.Helper()
	return r.issue(t, csrPEM, edit, func(now time.Time) (*x509.Certificate, error) {
		return ca.IntermediateTemplate("Acme Signing", "Acme intermediate", now, now.Add(lifetime))
	})
}

// signTSA checks the TSA key's CSR and issues its timestamping
// certificate, as tsa.LeafTemplate makes it unless edit changes it; it
// returns [leaf, root].
func (r offlineRoot) signTSA(t *testing.T, csrPEM []byte, edit func(*x509.Certificate)) []*x509.Certificate {
	t.Helper()
	return r.issue(t, csrPEM, edit, func(now time.Time) (*x509.Certificate, error) {
		return tsa.LeafTemplate("Acme Signing", "Acme timestamping", now, now.AddDate(5, 0, 0))
	})
}

// issue checks the CSR and issues a certificate for its key from the
// template made for an hour ago, edited by edit if set.
func (r offlineRoot) issue(t *testing.T, csrPEM []byte, edit func(*x509.Certificate), template func(time.Time) (*x509.Certificate, error)) []*x509.Certificate {
	t.Helper()
	csr, err := parseCSRPEM(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	tmpl, err := template(testclock.WallNow().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(tmpl)
	}
	cert, err := pki.CreateCertificate(context.Background(), tmpl, r.cert, csr.PublicKey, pki.LocalSigner{Key: r.key})
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{cert, r.cert}
}

// externalRoot is a Vault whose CA and TSA keys wait for an offline root:
// `ca init --external-root` has written the config and the two CSRs.
type externalRoot struct {
	env               []string
	dir, configPath   string
	csrPEM, tsaCSRPEM []byte
	iss               *oidcmock.Issuer
}

// importTSA has root sign the TSA key's CSR and imports the chain.
func (e externalRoot) importTSA(t *testing.T, root offlineRoot) {
	t.Helper()
	mustRun(t, e.env, signetBin, "ca", "import-chain", "--tsa", "--config", e.configPath, "--chain", e.writeChain(t, root.signTSA(t, e.tsaCSRPEM, nil)))
}

// newExternalRoot starts Vault and a test issuer and runs ca init
// --external-root for org.
func newExternalRoot(t *testing.T, org string) externalRoot {
	t.Helper()
	vs, iss := startVaultAndIssuer(t)
	e := externalRoot{env: []string{"VAULT_ADDR=" + vs.Addr, "VAULT_TOKEN=" + vs.RootToken}, dir: t.TempDir(), iss: iss}
	e.configPath = filepath.Join(e.dir, "signet.yaml")
	csrPath, tsaCSRPath := filepath.Join(e.dir, "ca.csr"), filepath.Join(e.dir, "tsa.csr")
	mustRun(t, e.env, signetBin, "ca", "init", "--backend", "vault", "--out", e.configPath, "--external-root",
		"--csr-out", csrPath, "--tsa-csr-out", tsaCSRPath, "--org", org)
	e.csrPEM, e.tsaCSRPEM = readFile(t, csrPath), readFile(t, tsaCSRPath)
	return e
}

// writeChain writes chain as PEM and returns its path.
func (e externalRoot) writeChain(t *testing.T, chain []*x509.Certificate) string {
	t.Helper()
	p := filepath.Join(e.dir, "chain.pem")
	if err := os.WriteFile(p, pki.EncodeCertificatesPEM(chain), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeIdentity writes an identity config trusting the test issuer and
// returns its path.
func (e externalRoot) writeIdentity(t *testing.T) string {
	t.Helper()
	p := filepath.Join(e.dir, "identity.yaml")
	if err := os.WriteFile(p, []byte("oidc-issuers:\n  "+e.iss.URL()+":\n    client-id: sigstore\n    type: github-workflow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVaultRotationKeepsAMemoryTSA: with the CA in Vault and the TSA key
// in memory (a mix the config allows), a live CA rotation keeps the TSA
// key and chain the replica started with, so a bundle timestamped before
// the rotation verifies with the trusted root served after it.
func TestVaultRotationKeepsAMemoryTSA(t *testing.T) {
	s := newVaultSetup(t)
	s.editConfig(t, func(c map[string]any) {
		c["log"] = map[string]any{"type": "off"}
		c["tsa"] = map[string]any{"type": "memory"}
		v := c["vault"].(map[string]any)
		v["refresh-interval"], v["activation-delay"] = "1s", "0s"
	})
	p := startServerEnv(t, s.env, "--config", s.configPath, "--identity-config", s.idPath)
	srv := &signetServer{URL: p.URL}
	tsaChain := string(fetch(t, p.URL+"/api/v1/timestamp/certchain"))
	before := signFile(t, srv, s.issuer, filepath.Join(s.dir, "before.txt"))
	mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", filepath.Join(s.dir, "rotated.yaml"), "--rotate")
	mustWaitFor(t, 10*time.Second, func() bool { return caAuthorities(t, p.URL) == 2 })
	if got := string(fetch(t, p.URL+"/api/v1/timestamp/certchain")); got != tsaChain {
		t.Error("the CA rotation replaced the memory TSA key and chain")
	}
	trusted := filepath.Join(s.dir, "trusted_root.json")
	if err := os.WriteFile(trusted, fetch(t, p.URL+"/api/v1/trustedroot"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, nil, signetBin, "verify", strings.TrimSuffix(before, ".sigstore.json"), "--bundle", before, "--trusted-root", trusted,
		"--certificate-identity", wantSAN, "--certificate-oidc-issuer", s.issuer.URL())
	// A rerun on this config keeps its memory TSA rather than moving it to
	// Vault.
	r := mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--external-root")
	if cfg := string(readFile(t, s.configPath)); !strings.Contains(cfg, "tsa:\n  type: memory\n") {
		t.Errorf("ca init on a config with a memory TSA rewrote it:\n%s", cfg)
	}
	// Nor does it make or ask for anything of the TSA's.
	if !strings.Contains(r.stdout, "TSA kept as the config's memory key") || strings.Contains(r.stdout, "TSA key") {
		t.Errorf("ca init on a config with a memory TSA said:\n%s", r.stdout)
	}
}

// TestVaultExternalRootKeepsAnOlderVaultRootTSA: a deployment that an
// earlier signet made with --external-root has its CA under the offline
// root but its TSA under a root key in Vault. A rotation with
// --external-root keeps that TSA under the Vault root (a stored chain
// never moves to another root) and writes a CSR for the CA only.
func TestVaultExternalRootKeepsAnOlderVaultRootTSA(t *testing.T) {
	vs, _ := startVaultAndIssuer(t)
	env := []string{"VAULT_ADDR=" + vs.Addr, "VAULT_TOKEN=" + vs.RootToken}
	ctx := context.Background()
	vc, err := vault.Connect(ctx, vault.Config{Address: vs.Addr, Auth: vault.Auth{Token: vs.RootToken}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	// The older layout: the TSA chain under the Vault root key (made here
	// by a Vault-root init whose CA chain goes elsewhere), the CA chain
	// imported from the offline root.
	if _, err := provision.Init(ctx, vc, provision.InitOptions{Org: "Acme Signing", CAChainPath: "scratch/ca-chain"}); err != nil {
		t.Fatal(err)
	}
	before, _, err := vc.ReadChain(ctx, "signet/tsa-chain")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath, csrPath := filepath.Join(dir, "signet.yaml"), filepath.Join(dir, "ca.csr")
	mustRun(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", cfgPath, "--external-root", "--csr-out", csrPath,
		"--tsa-csr-out", filepath.Join(dir, "tsa.csr"), "--org", "Acme Signing")
	chain := newOfflineRoot(t).sign(t, readFile(t, csrPath), 5*365*24*time.Hour, nil)
	if err := os.WriteFile(filepath.Join(dir, "chain.pem"), pki.EncodeCertificatesPEM(chain), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, signetBin, "ca", "import-chain", "--config", cfgPath, "--chain", filepath.Join(dir, "chain.pem"))

	r := mustRun(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", cfgPath, "--external-root", "--rotate",
		"--csr-out", csrPath, "--tsa-csr-out", filepath.Join(dir, "tsa2.csr"))
	if !strings.Contains(r.stdout, "CA key signet-ca v2: CSR written") || strings.Contains(r.stdout, "TSA key signet-tsa v2: CSR") {
		t.Errorf("ca init --external-root --rotate said:\n%s\nwant a CSR for the CA only", r.stdout)
	}
	after, _, err := vc.ReadChain(ctx, "signet/tsa-chain")
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != 2 || !after.Chain[len(after.Chain)-1].Equal(before.Chain[len(before.Chain)-1]) {
		t.Errorf("TSA chain after the rotation: key version %d, root %q; want version 2 under the same Vault root %q",
			after.Version, after.Chain[len(after.Chain)-1].Subject, before.Chain[len(before.Chain)-1].Subject)
	}
}
