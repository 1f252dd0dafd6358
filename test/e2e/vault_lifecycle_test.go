package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/test/testclock"
)

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := logHTTP.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestVaultSealedAtStart: a replica started while Vault is sealed stays
// up, reports not ready and answers 503 naming the cause on the signing and
// trust endpoints; once Vault is unsealed it becomes ready and signs
// without a restart.
func TestVaultSealedAtStart(t *testing.T) {
	s := newVaultSetup(t) // its issuance log signs checkpoints with a transit key: it opens late too
	ctx := context.Background()
	if err := s.vault.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	p := startServerUntil(t, s.env, "/healthz", "--config", s.configPath, "--identity-config", s.idPath)
	if code, body := get(t, p.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "sealed") {
		t.Errorf("/readyz with Vault sealed: %d %s, want 503 naming the seal", code, body)
	}
	for _, path := range []string{"/api/v1/trustedroot", "/api/v1/signingconfig", "/api/v2/trustBundle", "/api/v1/timestamp/certchain", "/api/v1/log/checkpoint"} {
		code, body := get(t, p.URL+path)
		if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "sealed") || bytes.Contains(body, []byte("127.0.0.1")) {
			t.Errorf("GET %s with Vault sealed: %d %s, want 503 naming the seal and no address", path, code, body)
		}
	}
	tok, err := s.issuer.Mint(releaseClaims())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := postSign(t, p.URL, tok); status != http.StatusServiceUnavailable || !strings.Contains(string(body), "not loaded its keys") {
		t.Errorf("signing with Vault sealed: %d %s, want 503", status, body)
	}

	if err := s.vault.Unseal(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := testclock.WallNow().Add(40 * time.Second) // the background retry backs off up to 30 s
	for {
		if code, _ := get(t, p.URL+"/readyz"); code == http.StatusOK {
			break
		}
		if testclock.WallNow().After(deadline) {
			t.Fatalf("not ready 40 s after the unseal:\n%s", p.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	status, body := postSign(t, p.URL, tok)
	if status != http.StatusOK {
		t.Fatalf("signing after the unseal: %d %s", status, body)
	}
	if code, _ := get(t, p.URL+"/api/v1/log/checkpoint"); code != http.StatusOK {
		t.Errorf("the issuance log is not served after the unseal: %d", code)
	}
	if exited, why := p.exited(0); exited {
		t.Fatalf("the replica restarted or exited: %s", why)
	}
}

// postSign posts a one-shot signing request and returns its status and body.
func postSign(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/sign", bytes.NewReader(oneShotBody(t, token, []byte("artifact"))))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := logHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestVaultLiveRotation: two replicas running, `signet ca init --rotate`
// once: within vault.refresh-interval both publish the new chain in their
// trusted root while still issuing with the old key; from
// vault.activation-delay after the rotation both issue with the new key
// version; nobody restarted. Bundles from before and after verify with
// the trusted root fetched after.
func TestVaultLiveRotation(t *testing.T) {
	s := newVaultSetup(t)
	const refresh, activation = time.Second, 6 * time.Second
	s.editConfig(t, func(c map[string]any) {
		c["log"] = map[string]any{"type": "off"}
		v := c["vault"].(map[string]any)
		v["refresh-interval"], v["activation-delay"] = refresh.String(), activation.String()
	})
	replicas := []*logProc{
		startServerEnv(t, s.env, "--config", s.configPath, "--identity-config", s.idPath),
		startServerEnv(t, s.env, "--config", s.configPath, "--identity-config", s.idPath),
	}
	oldIssuing := issuingCA(t, replicas[0].URL)
	oldBundle := signFile(t, &signetServer{URL: replicas[0].URL}, s.issuer, s.dir+"/before.txt")

	rotated := testclock.WallNow()
	mustRun(t, s.env, signetBin, "ca", "init", "--backend", "vault", "--out", s.configPath, "--rotate")
	newKey := s.transitPublicKey(t, "signet-ca", "2")

	// Publish: both replicas put the new chain in their trusted root
	// within the refresh interval, and still issue with the old key.
	for _, r := range replicas {
		mustWaitFor(t, 3*refresh+2*time.Second, func() bool { return caAuthorities(t, r.URL) == 2 })
		if testclock.WallNow().Sub(rotated) < activation-time.Second {
			if c := issuingCA(t, r.URL); !c.Equal(oldIssuing) {
				t.Errorf("%s issues with the new key before the activation delay", r.URL)
			}
		}
	}
	// Use: both switch at the activation time.
	for _, r := range replicas {
		mustWaitFor(t, activation+3*refresh, func() bool {
			return pki.SamePublicKey(issuingCA(t, r.URL).PublicKey, newKey)
		})
	}
	if since := testclock.WallNow().Sub(rotated); since < activation-time.Second {
		t.Errorf("a replica issued with the new key %s after the rotation, before the %s activation delay", since, activation)
	}
	newBundle := signFile(t, &signetServer{URL: replicas[1].URL}, s.issuer, s.dir+"/after.txt")
	trPath := s.dir + "/trusted_root_after.json"
	if err := os.WriteFile(trPath, fetch(t, replicas[0].URL+"/api/v1/trustedroot"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{oldBundle, newBundle} {
		mustRun(t, nil, signetBin, "verify", strings.TrimSuffix(b, ".sigstore.json"), "--bundle", b, "--trusted-root", trPath,
			"--certificate-identity", wantSAN, "--certificate-oidc-issuer", s.issuer.URL())
	}
	for _, r := range replicas {
		if exited, why := r.exited(0); exited {
			t.Fatalf("a replica restarted or exited: %s", why)
		}
	}
}

// TestVaultHalfDoneRotationRefused: while a replica runs, the CA's transit
// key is rotated and the chain in KV is recorded as the new version
// without a new certificate (a half-done rotation): the replica refuses it
// with a log line naming the key and the certificate, and keeps issuing
// with the chain it trusts.
func TestVaultHalfDoneRotationRefused(t *testing.T) {
	s := newVaultSetup(t)
	s.editConfig(t, func(c map[string]any) {
		c["log"] = map[string]any{"type": "off"}
		v := c["vault"].(map[string]any)
		v["refresh-interval"], v["activation-delay"] = "1s", "0s"
	})
	p := startServerEnv(t, s.env, "--config", s.configPath, "--identity-config", s.idPath)
	trusted := issuingCA(t, p.URL)
	s.halfRotate(t)
	mustWaitFor(t, 10*time.Second, func() bool {
		return strings.Contains(p.output(), "transit key signet-ca version 2 is not the key of certificate")
	})
	if !strings.Contains(p.output(), "a new chain in Vault was refused") {
		t.Errorf("the refusal is not logged as such:\n%s", p.output())
	}
	if !issuingCA(t, p.URL).Equal(trusted) {
		t.Error("the replica switched to the refused chain")
	}
	tok, err := s.issuer.Mint(releaseClaims())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := postSign(t, p.URL, tok); status != http.StatusOK {
		t.Fatalf("signing after the refused rotation: %d %s", status, body)
	}
	if code, body := get(t, p.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after the refused rotation: %d %s", code, body)
	}
}

// issuingCA is the CA certificate a replica issues with now (its
// /api/v2/trustBundle).
func issuingCA(t *testing.T, url string) *x509.Certificate {
	t.Helper()
	var tb struct {
		Chains []struct {
			Certificates []string `json:"certificates"`
		} `json:"chains"`
	}
	if err := json.Unmarshal(fetch(t, url+"/api/v2/trustBundle"), &tb); err != nil || len(tb.Chains) == 0 {
		t.Fatalf("trustBundle: %v", err)
	}
	certs, err := pki.ParseCertificatesPEM([]byte(tb.Chains[0].Certificates[0]))
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// caAuthorities counts the CA authorities of a replica's trusted root.
func caAuthorities(t *testing.T, url string) int {
	t.Helper()
	var tr struct {
		CAs []json.RawMessage `json:"certificateAuthorities"`
	}
	if err := json.Unmarshal(fetch(t, url+"/api/v1/trustedroot"), &tr); err != nil {
		t.Fatal(err)
	}
	return len(tr.CAs)
}

// mustWaitFor polls cond until it holds, failing the test after d.
func mustWaitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := testclock.WallNow().Add(d)
	for !cond() {
		if testclock.WallNow().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestVaultSealedAtStartLogRefused: a replica started while Vault is
// sealed opens its issuance log once Vault answers; when the log then
// refuses to open (here: its directory holds another origin's log), the
// replica stays not ready, tells clients the log did not open (not that
// Vault is unavailable), and logs the cause as an error.
func TestVaultSealedAtStartLogRefused(t *testing.T) {
	s := newVaultSetup(t)
	first := startServerEnv(t, s.env, "--config", s.configPath, "--identity-config", s.idPath)
	first.stop(t) // the log directory now holds a checkpoint of the first origin
	s.editConfig(t, func(c map[string]any) { c["log"].(map[string]any)["origin"] = "elsewhere.example.com/log" })
	p := s.startWhileSealed(t)
	const want = "the issuance log did not open"
	waitReadyzSays(t, p.URL, want)
	if code, body := get(t, p.URL+"/readyz"); code != http.StatusServiceUnavailable || bytes.Contains(body, []byte(s.dir)) {
		t.Errorf("/readyz: %d %s, want 503 without the directory", code, body)
	}
	tok, err := s.issuer.Mint(releaseClaims())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := postSign(t, p.URL, tok); status != http.StatusServiceUnavailable || !strings.Contains(string(body), want) {
		t.Errorf("signing: %d %s, want 503 saying %q", status, body, want)
	}
	if out := p.output(); !strings.Contains(out, `"level":"ERROR","msg":"the issuance log did not open; not ready, retrying"`) {
		t.Errorf("the server log does not name the log's refusal as an error:\n%s", logDigest(out))
	}
}

// startWhileSealed starts signet on the setup's config while Vault is
// sealed (it serves /healthz, not ready), then unseals Vault.
func (s *vaultSetup) startWhileSealed(t *testing.T) *logProc {
	t.Helper()
	ctx := context.Background()
	if err := s.vault.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	p := startServerUntil(t, s.env, "/healthz", "--config", s.configPath, "--identity-config", s.idPath)
	if err := s.vault.Unseal(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitReadyzSays waits until the server's /readyz names want; its
// background retry backs off up to 30 s.
func waitReadyzSays(t *testing.T, url, want string) {
	t.Helper()
	mustWaitFor(t, 40*time.Second, func() bool {
		_, body := get(t, url+"/readyz")
		return strings.Contains(string(body), want)
	})
}
