package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
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
	mustRun(t, nil, signetBin, "verify", artifact, "--server", srv.URL, "--insecure-server-root",
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

// TestVaultExternalRoot bootstraps the CA and TSA keys for an offline
// root: no root key is made in Vault, both CSRs are signed outside Vault
// and imported, then signet signs with them and its trusted root names
// the offline root for both.
func TestVaultExternalRoot(t *testing.T) {
	e := newExternalRoot(t, "Acme Signing")
	mustFailWith(t, "No value found", e.env, vaultBin(t), "read", "transit/keys/signet-root")
	mustFail(t, e.env, signetBin, "ca", "import-chain", "--config", e.configPath, "--chain", filepath.Join(e.dir, "ca.csr"))
	// A rerun that forgets --external-root before any chain is imported
	// would put both keys under a new root in Vault: refused.
	mustFailWith(t, "a setup begun with --external-root", e.env, signetBin, "ca", "init", "--backend", "vault", "--out", e.configPath)
	mustFailWith(t, "No value found", e.env, vaultBin(t), "read", "transit/keys/signet-root")
	offline := newOfflineRoot(t)
	// The TSA's chain first: a rerun that forgets --external-root now
	// would put the CA under a new root in Vault: refused before that root
	// key is made.
	e.importTSA(t, offline)
	mustFailWith(t, "transit key signet-ca has no chain yet", e.env, signetBin, "ca", "init", "--backend", "vault", "--out", e.configPath)
	mustFailWith(t, "No value found", e.env, vaultBin(t), "read", "transit/keys/signet-root")
	chainPath := e.writeChain(t, offline.sign(t, e.csrPEM, 5*365*24*time.Hour, nil))
	mustRun(t, e.env, signetBin, "ca", "import-chain", "--config", e.configPath, "--chain", chainPath)
	// The TSA's chain must be one timestamp verifiers accept: the CA's
	// kind of certificate is refused, and so is one for another key.
	mustFailWith(t, "must not be a CA", e.env, signetBin, "ca", "import-chain", "--tsa", "--config", e.configPath,
		"--chain", e.writeChain(t, offline.sign(t, e.tsaCSRPEM, 5*365*24*time.Hour, nil)))
	mustFailWith(t, "key", e.env, signetBin, "ca", "import-chain", "--tsa", "--config", e.configPath,
		"--chain", e.writeChain(t, offline.signTSA(t, e.csrPEM, nil)))
	// A rotation that forgets --external-root would put the CA under a root
	// in Vault, and no replica would start on it: refused, nothing written.
	mustFailWith(t, "rotates with --external-root", e.env, signetBin, "ca", "init", "--backend", "vault", "--out", e.configPath, "--rotate")
	// So is a chain under another offline root.
	other := e.writeChain(t, newOfflineRoot(t).sign(t, e.csrPEM, 5*365*24*time.Hour, nil))
	mustFailWith(t, "ends at root", e.env, signetBin, "ca", "import-chain", "--config", e.configPath, "--chain", other)
	srv := startSignet(t, e.env, "--config", e.configPath, "--identity-config", e.writeIdentity(t))
	signAndVerify(t, srv, e.iss, e.dir)
	if tsaChain, err := pki.ParseCertificatesPEM(fetch(t, srv.URL+"/api/v1/timestamp/certchain")); err != nil || !tsaChain[len(tsaChain)-1].Equal(offline.cert) {
		t.Errorf("the TSA chain does not end at the offline root (%v)", err)
	}
	mustFailWith(t, "No value found", e.env, vaultBin(t), "read", "transit/keys/signet-root")
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

// TestVaultInitLogDirIsAbsolute: `ca init --out signet.yaml` run in a
// directory writes an absolute log.dir, so that `signet serve` started in
// another directory opens that log instead of starting a second one under
// the same key (a fork of the log).
func TestVaultInitLogDirIsAbsolute(t *testing.T) {
	vs, _ := startVaultAndIssuer(t)
	dir := t.TempDir()
	cmd := exec.Command(signetBin, "ca", "init", "--backend", "vault", "--out", "signet.yaml", "--org", "Acme Signing")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+vs.Addr, "VAULT_TOKEN="+vs.RootToken)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ca init: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^  dir: (.*)$`).FindSubmatch(readFile(t, filepath.Join(dir, "signet.yaml")))
	if m == nil || string(m[1]) != filepath.Join(dir, "signet-log") {
		t.Errorf("ca init wrote log.dir %q, want %s", m, filepath.Join(dir, "signet-log"))
	}
}

// TestVaultInitPublicURL: `ca init --public-url` writes public-url and
// makes the log's origin from it; without it, ca init warns that the
// origin comes from the default listen address and can never change.
func TestVaultInitPublicURL(t *testing.T) {
	vs, _ := startVaultAndIssuer(t)
	env := []string{"VAULT_ADDR=" + vs.Addr, "VAULT_TOKEN=" + vs.RootToken}
	withURL := filepath.Join(t.TempDir(), "signet.yaml")
	r := mustRun(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", withURL, "--public-url", "https://signet.example.com/")
	cfg := string(readFile(t, withURL))
	if !strings.Contains(cfg, "public-url: https://signet.example.com\n") || !strings.Contains(cfg, "origin: signet.example.com/log\n") ||
		!strings.Contains(r.stdout, "signet.example.com/log+") || strings.Contains(r.stderr, "warning") {
		t.Errorf("ca init --public-url wrote:\n%s\nand said:\n%s%s", cfg, r.stdout, r.stderr)
	}
	r = mustRun(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", filepath.Join(t.TempDir(), "signet.yaml"))
	if !strings.Contains(r.stderr, "warning: the log's origin 127.0.0.1:8080/log comes from the default listen address") {
		t.Errorf("ca init without a public URL does not warn about the log's origin:\n%s", r.stderr)
	}
}
