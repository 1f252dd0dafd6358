package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/vaultdev"
)

// servePolicy is the Vault policy signet needs to serve (README, "Keys in
// Vault"): sign with the transit keys, read them, read the chains and
// their version history.
const servePolicy = `path "transit/sign/*" { capabilities = ["update"] }
path "transit/keys/*" { capabilities = ["read"] }
path "secret/data/signet/*" { capabilities = ["read"] }
path "secret/metadata/signet/*" { capabilities = ["read"] }`

// vaultSetup is a real Vault dev server bootstrapped by `signet ca init`.
type vaultSetup struct {
	vault      *vaultdev.Server
	env        []string // VAULT_ADDR and VAULT_TOKEN
	dir        string
	configPath string
	idPath     string
	issuer     *oidcmock.Issuer
	admin      *vaultapi.Client
}

// startVaultAndIssuer starts a Vault dev server and a mock issuer whose
// runner tokens carry releaseClaims, both stopped when t ends.
func startVaultAndIssuer(t *testing.T) (*vaultdev.Server, *oidcmock.Issuer) {
	t.Helper()
	vs := vaultdev.Start(t)
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	iss.SetRunnerClaims(releaseClaims())
	return vs, iss
}

// newVaultSetup starts Vault and a mock issuer and runs `signet ca init`.
// extraConfig is appended to the generated signet.yaml.
func newVaultSetup(t *testing.T) *vaultSetup {
	t.Helper()
	vs, iss := startVaultAndIssuer(t)
	s := &vaultSetup{vault: vs, issuer: iss, dir: t.TempDir(),
		env: []string{"VAULT_ADDR=" + vs.Addr, "VAULT_TOKEN=" + vs.RootToken}}
	s.configPath = filepath.Join(s.dir, "signet.yaml")
	s.idPath = filepath.Join(s.dir, "identity.yaml")
	id := "oidc-issuers:\n  " + iss.URL() + ":\n    issuer-url: " + iss.URL() + "\n    client-id: sigstore\n    type: github-workflow\n"
	if err := os.WriteFile(s.idPath, []byte(id), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--org", "Acme Signing")
	if !strings.Contains(out.stdout, "Vault setup created") {
		t.Fatalf("ca init: %s", out.stdout)
	}
	cfg := vaultapi.DefaultConfig()
	cfg.Address = vs.Addr
	var err error
	if s.admin, err = vaultapi.NewClient(cfg); err != nil {
		t.Fatal(err)
	}
	s.admin.SetToken(vs.RootToken)
	return s
}

// setConfig replaces a line of signet.yaml (e.g. the Vault timeout).
func (s *vaultSetup) setConfig(t *testing.T, old, new string) {
	t.Helper()
	b, err := os.ReadFile(s.configPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("signet.yaml lacks %q:\n%s", old, b)
	}
	if err := os.WriteFile(s.configPath, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *vaultSetup) serve(t *testing.T, env ...string) *signetServer {
	t.Helper()
	return startSignet(t, append(append([]string{}, s.env...), env...), "--config", s.configPath, "--identity-config", s.idPath)
}

// transitPublicKey reads a transit key version's public key from Vault.
func (s *vaultSetup) transitPublicKey(t *testing.T, name, version string) any {
	t.Helper()
	sec, err := s.admin.Logical().Read("transit/keys/" + name)
	if err != nil || sec == nil {
		t.Fatalf("read transit key %s: %v", name, err)
	}
	keys := sec.Data["keys"].(map[string]any)
	block, _ := pem.Decode([]byte(keys[version].(map[string]any)["public_key"].(string)))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// signRaw posts a one-shot request and returns the status and body.
func signRaw(t *testing.T, srv *signetServer, token string, artifact []byte) (int, []byte) {
	t.Helper()
	body := oneShotBody(t, token, artifact)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/sign", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

func TestVaultBackedSigning(t *testing.T) {
	s := newVaultSetup(t)
	before, err := os.ReadFile(s.configPath)
	if err != nil {
		t.Fatal(err)
	}
	again := mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--org", "Acme Signing")
	after, _ := os.ReadFile(s.configPath)
	if !strings.Contains(again.stdout, "unchanged") || !bytes.Equal(before, after) {
		t.Errorf("a second ca init changed something:\n%s\nbefore:\n%s\nafter:\n%s", again.stdout, before, after)
	}
	srv := s.serve(t)
	artifact := filepath.Join(s.dir, "widget.tar.gz")
	if err := os.WriteFile(artifact, []byte("vault-signed artifact\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runner := []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + s.issuer.URL() + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + s.issuer.RequestToken()}
	mustRun(t, runner, signetBin, "sign", artifact, "--server", srv.URL)
	bundlePath := artifact + ".sigstore.json"
	b, err := os.ReadFile(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	tr := fetch(t, srv.URL+"/api/v1/trustedroot")
	trPath := filepath.Join(s.dir, "trusted_root.json")
	if err := os.WriteFile(trPath, tr, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Verify(b, tr, bytes.NewReader([]byte("vault-signed artifact\n")),
		bundle.Identity{SAN: wantSAN, Issuer: s.issuer.URL()}); err != nil {
		t.Fatalf("sigstore-go: %v", err)
	}
	mustRun(t, nil, cosignPath(t), "verify-blob", artifact, "--bundle", bundlePath, "--trusted-root", trPath,
		"--certificate-identity", wantSAN, "--certificate-oidc-issuer", s.issuer.URL(),
		"--insecure-ignore-tlog", "--use-signed-timestamps", "--insecure-ignore-sct")

	t.Run("the leaf's issuer key is the transit key", func(t *testing.T) {
		leaf, err := bundle.LeafCertificate(b)
		if err != nil {
			t.Fatal(err)
		}
		chain, err := pki.ParseCertificatesPEM(fetch(t, srv.URL+"/api/v1/rootCert"))
		if err != nil {
			t.Fatal(err)
		}
		if err := leaf.CheckSignatureFrom(chain[0]); err != nil {
			t.Fatalf("leaf not signed by the served intermediate: %v", err)
		}
		if !pki.SamePublicKey(chain[0].PublicKey, s.transitPublicKey(t, "signet-ca", "1")) {
			t.Error("the intermediate's key is not transit key signet-ca v1")
		}
		tsaChain, err := pki.ParseCertificatesPEM(fetch(t, srv.URL+"/api/v1/timestamp/certchain"))
		if err != nil {
			t.Fatal(err)
		}
		if !pki.SamePublicKey(tsaChain[0].PublicKey, s.transitPublicKey(t, "signet-tsa", "1")) {
			t.Error("the TSA leaf's key is not transit key signet-tsa v1")
		}
	})

	t.Run("no private key or token in signet's files", func(t *testing.T) {
		for _, p := range []string{s.configPath, s.idPath} {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte("PRIVATE KEY")) || bytes.Contains(data, []byte(s.vault.RootToken)) {
				t.Errorf("%s holds a private key or the Vault token:\n%s", p, data)
			}
		}
		sec, err := s.admin.Logical().Read("transit/keys/signet-ca")
		if err != nil {
			t.Fatal(err)
		}
		if sec.Data["exportable"] != false {
			t.Errorf("transit key signet-ca is exportable: %v", sec.Data["exportable"])
		}
	})
}

// TestVaultKeyMismatchRefusesToStart: a half-done rotation (the transit
// key rotated and the chain in KV recorded as version 2, but still the
// version 1 certificate) stops the start with both named.
func TestVaultKeyMismatchRefusesToStart(t *testing.T) {
	s := newVaultSetup(t)
	s.halfRotate(t)
	r := mustFail(t, s.env, signetBin, "serve", "--config", s.configPath, "--identity-config", s.idPath, "--addr", freeAddr(t))
	if !strings.Contains(r.stderr, "transit key signet-ca version 2 is not the key of certificate") {
		t.Errorf("want a message naming the key and the certificate, got: %s", r.stderr)
	}
}

// halfRotate does half a rotation of the CA, as an interrupted one would:
// the transit key gets version 2 and the chain in KV is recorded as
// version 2, but it is still version 1's certificate.
func (s *vaultSetup) halfRotate(t *testing.T) {
	t.Helper()
	if _, err := s.admin.Logical().Write("transit/keys/signet-ca/rotate", nil); err != nil {
		t.Fatal(err)
	}
	kv := s.admin.KVv2("secret")
	chain, err := kv.Get(context.Background(), "signet/ca-chain")
	if err != nil {
		t.Fatal(err)
	}
	chain.Data["key_version"] = 2
	if _, err := kv.Put(context.Background(), "signet/ca-chain", chain.Data); err != nil {
		t.Fatal(err)
	}
}
