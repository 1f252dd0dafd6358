package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/signet-dev/signet/keyless/client"
)

// oneShotBody builds a valid /api/v1/sign request with a fresh key.
func oneShotBody(t testing.TB, token string, artifact []byte) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	challenge, err := client.TokenChallenge(token)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(data []byte) []byte {
		h := sha256.Sum256(data)
		sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	digest := sha256.Sum256(artifact)
	b, err := json.Marshal(map[string]any{
		"publicKey":         map[string]string{"content": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
		"proofOfPossession": sign([]byte(challenge)),
		"messageSignature": map[string]any{
			"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": digest[:]},
			"signature":     sign(artifact),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectUnavailable asserts a 503 problem document with no certificate.
func expectUnavailable(t *testing.T, what string, status int, body []byte, within time.Duration, took time.Duration) {
	t.Helper()
	if status != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d, want 503: %s", what, status, body)
	}
	if bytes.Contains(body, []byte("verificationMaterial")) || bytes.Contains(body, []byte("CERTIFICATE")) {
		t.Errorf("%s: a failed request returned certificate material: %s", what, body)
	}
	if took > within {
		t.Errorf("%s: took %s, over the bound of %s", what, took, within)
	}
}

// readyStatus polls /readyz until it answers want (it caches its answer
// for 2 s) or 6 s pass, and returns the last status.
func readyStatus(t *testing.T, srv *signetServer, want int) int {
	t.Helper()
	deadline := time.Now().Add(6 * time.Second)
	for {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == want || time.Now().After(deadline) {
			return resp.StatusCode
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestVaultOutagesAndRecovery seals and freezes a real Vault under a
// running signet: requests get 503 within the deadline and signet
// recovers on its own when Vault returns.
func TestVaultOutagesAndRecovery(t *testing.T) {
	s := newVaultSetup(t)
	s.setConfig(t, "timeout: 5s", "timeout: 2s")
	srv := s.serve(t)
	artifact := []byte("artifact")
	token := func() string {
		tok, err := s.issuer.Mint(releaseClaims())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	mustSign := func(when string) {
		t.Helper()
		if status, body := signRaw(t, srv, token(), artifact); status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", when, status, body)
		}
	}
	mustSign("before any outage")
	ctx := context.Background()

	if err := s.vault.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		start := time.Now()
		status, body := signRaw(t, srv, token(), artifact)
		expectUnavailable(t, "sealed", status, body, 5*time.Second, time.Since(start))
		if !strings.Contains(string(body), "sealed") {
			t.Errorf("sealed: the message does not name the cause: %s", body)
		}
		if strings.Contains(string(body), strings.TrimPrefix(s.vault.Addr, "http://")) || strings.Contains(string(body), "transit") {
			t.Errorf("sealed: the message leaks Vault's address or paths: %s", body)
		}
	}
	if st := readyStatus(t, srv, http.StatusServiceUnavailable); st != http.StatusServiceUnavailable {
		t.Errorf("/readyz while sealed: %d, want 503", st)
	}
	if err := s.vault.Unseal(ctx); err != nil {
		t.Fatal(err)
	}
	mustSign("after unseal")
	if st := readyStatus(t, srv, http.StatusOK); st != http.StatusOK {
		t.Errorf("/readyz after unseal: %d, want 200", st)
	}

	if err := s.vault.Freeze(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	status, body := signRaw(t, srv, token(), artifact)
	// The deadline is 2 s per Vault call; issuing signs once.
	expectUnavailable(t, "frozen", status, body, 8*time.Second, time.Since(start))
	if !strings.Contains(string(body), "did not answer within 2s") {
		t.Errorf("frozen: the message does not name the cause: %s", body)
	}
	if err := s.vault.Thaw(); err != nil {
		t.Fatal(err)
	}
	mustSign("after thaw")
}

// TestVaultAppRoleTokenExpiry runs signet with AppRole whose tokens live
// 3 s (at most 6 s): signing keeps working across several token lifetimes
// because signet renews and then logs in again.
func TestVaultAppRoleTokenExpiry(t *testing.T) {
	s := newVaultSetup(t)
	policy := servePolicy
	for _, step := range []struct {
		path string
		data map[string]any
	}{
		{"sys/auth/approle", map[string]any{"type": "approle"}},
		{"sys/policies/acl/signet", map[string]any{"policy": policy}},
		{"auth/approle/role/signet", map[string]any{"token_policies": "signet", "token_ttl": "3s", "token_max_ttl": "6s"}},
	} {
		if _, err := s.admin.Logical().Write(step.path, step.data); err != nil {
			t.Fatalf("%s: %v", step.path, err)
		}
	}
	roleID, err := s.admin.Logical().Read("auth/approle/role/signet/role-id")
	if err != nil {
		t.Fatal(err)
	}
	secretID, err := s.admin.Logical().Write("auth/approle/role/signet/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(s.dir, "secret-id")
	if err := os.WriteFile(secretFile, []byte(secretID.Data["secret_id"].(string)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.setConfig(t, "method: token", "method: approle\n    role-id: "+roleID.Data["role_id"].(string)+"\n    secret-id-file: "+secretFile)
	// No VAULT_TOKEN: the only way in is AppRole.
	srv := startSignet(t, []string{"VAULT_ADDR=" + s.vault.Addr, "VAULT_TOKEN="}, "--config", s.configPath, "--identity-config", s.idPath)
	deadline := time.Now().Add(14 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		tok, err := s.issuer.Mint(releaseClaims())
		if err != nil {
			t.Fatal(err)
		}
		if status, body := signRaw(t, srv, tok, []byte("artifact")); status != http.StatusOK {
			t.Fatalf("request %d at %s: status %d: %s", n, time.Until(deadline), status, body)
		}
		n++
		time.Sleep(700 * time.Millisecond)
	}
	logs, _ := os.ReadFile(srv.log)
	if logins := strings.Count(string(logs), "logged in to vault"); logins < 2 {
		t.Errorf("%d signatures over 14 s of 3-6 s tokens but only %d logins:\n%s", n, logins, logs)
	}
	// /metrics tells an operator how long the current token has left.
	if v := metricValue(t, fetch(t, srv.URL+"/metrics"), "signet_vault_token_expiry_seconds"); v <= 0 || v > 6 {
		t.Errorf("signet_vault_token_expiry_seconds = %v, want within the 6 s token's life", v)
	}
}

// metricValue reads the value of the first sample of metric (name and
// labels as written, e.g. `x{a="b"}`) in a Prometheus text exposition.
func metricValue(t *testing.T, exposition []byte, metric string) float64 {
	t.Helper()
	for _, line := range strings.Split(string(exposition), "\n") {
		if rest, ok := strings.CutPrefix(line, metric+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no %s:\n%s", metric, exposition)
	return 0
}

// TestVaultTokenRenewal gives signet a renewable token that lives 3 s:
// signing keeps working well past that because signet renews it.
func TestVaultTokenRenewal(t *testing.T) {
	s := newVaultSetup(t)
	sec, err := s.admin.Auth().Token().Create(&vaultapi.TokenCreateRequest{
		Policies: []string{"root"}, TTL: "3s", ExplicitMaxTTL: "5m", Renewable: boolPtr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := startSignet(t, []string{"VAULT_ADDR=" + s.vault.Addr, "VAULT_TOKEN=" + sec.Auth.ClientToken},
		"--config", s.configPath, "--identity-config", s.idPath)
	deadline := time.Now().Add(9 * time.Second)
	for n := 0; time.Now().Before(deadline); n++ {
		tok, err := s.issuer.Mint(releaseClaims())
		if err != nil {
			t.Fatal(err)
		}
		if status, body := signRaw(t, srv, tok, []byte("artifact")); status != http.StatusOK {
			t.Fatalf("request %d, %s before the end: status %d: %s", n, time.Until(deadline), status, body)
		}
		time.Sleep(time.Second)
	}
	look, err := s.admin.Auth().Token().Lookup(sec.Auth.ClientToken)
	if err != nil {
		t.Fatalf("the token is gone: %v", err)
	}
	if ttl, _ := look.TokenTTL(); ttl <= 0 {
		t.Errorf("token TTL %s after 9 s of a 3 s token: not renewed", ttl)
	}
}

func boolPtr(b bool) *bool { return &b }
