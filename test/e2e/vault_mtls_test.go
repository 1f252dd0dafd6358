package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/oidcmock"
)

// TestVaultMutualTLS talks to a real Vault whose listener requires and
// verifies a TLS client certificate (tls_require_and_verify_client_cert).
// `signet ca init` fails without a client certificate and with one from a
// CA Vault does not trust, and succeeds with VAULT_CLIENT_CERT and
// VAULT_CLIENT_KEY, which it writes to signet.yaml as vault.client-cert and
// vault.client-key; `signet serve` then signs with only VAULT_TOKEN in its
// environment, and refuses to start once those lines are removed.
func TestVaultMutualTLS(t *testing.T) {
	dir := t.TempDir()
	pki := newMTLSPKI(t, filepath.Join(dir, "pki"))
	vs := startMTLSVault(t, filepath.Join(dir, "vault"), pki)

	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	iss.SetRunnerClaims(releaseClaims())
	configPath := filepath.Join(dir, "signet.yaml")
	env := []string{"VAULT_ADDR=" + vs.mtlsAddr, "VAULT_TOKEN=" + vs.rootToken, "VAULT_CACERT=" + pki.caCert,
		"VAULT_CLIENT_CERT=", "VAULT_CLIENT_KEY="}

	// No client certificate, then one from a CA that Vault does not trust:
	// Vault ends the TLS handshake and says why in its log. What the client
	// sees is racy under TLS 1.3 (Vault's alert, or a broken pipe when the
	// client writes first), so the reason is checked on Vault's side.
	mark := vs.logSize(t)
	r := mustFail(t, env, signetBin, "ca", "init", "--backend", "vault", "--out", configPath)
	checkTLSRefusal(t, "ca init without a client certificate", r.stderr, vs, mark, "tls: client didn't provide a certificate")
	mark = vs.logSize(t)
	r = mustFail(t, append(env, "VAULT_CLIENT_CERT="+pki.rogueCert, "VAULT_CLIENT_KEY="+pki.rogueKey),
		signetBin, "ca", "init", "--backend", "vault", "--out", configPath)
	checkTLSRefusal(t, "ca init with an untrusted client certificate", r.stderr, vs, mark,
		"tls: failed to verify certificate: x509: certificate signed by unknown authority")
	if _, err := os.Stat(configPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed ca init wrote %s (%v)", configPath, err)
	}

	out := mustRun(t, append(env, "VAULT_CLIENT_CERT="+pki.clientCert, "VAULT_CLIENT_KEY="+pki.clientKey),
		signetBin, "ca", "init", "--backend", "vault", "--out", configPath)
	if !strings.Contains(out.stdout, "Vault setup created") {
		t.Fatalf("ca init: %s", out.stdout)
	}
	cfg, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"address: " + vs.mtlsAddr, "ca-cert: " + pki.caCert,
		"client-cert: " + pki.clientCert, "client-key: " + pki.clientKey} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("signet.yaml lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(string(cfg), vs.rootToken) {
		t.Errorf("signet.yaml holds the Vault token:\n%s", cfg)
	}

	idPath := filepath.Join(dir, "identity.yaml")
	if err := os.WriteFile(idPath, []byte("oidc-issuers:\n  "+iss.URL()+":\n    client-id: sigstore\n    type: github-workflow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Everything but the token comes from signet.yaml.
	serveEnv := []string{"VAULT_TOKEN=" + vs.rootToken, "VAULT_ADDR=", "VAULT_CACERT=", "VAULT_CLIENT_CERT=", "VAULT_CLIENT_KEY="}
	srv := startSignet(t, serveEnv, "--config", configPath, "--identity-config", idPath)
	signAndVerify(t, srv, iss, dir)

	// The same config without its client certificate: serve cannot reach
	// Vault and exits.
	var kept []string
	for _, line := range strings.Split(string(cfg), "\n") {
		if f := strings.TrimSpace(line); !strings.HasPrefix(f, "client-cert:") && !strings.HasPrefix(f, "client-key:") {
			kept = append(kept, line)
		}
	}
	noCertPath := filepath.Join(dir, "signet-no-client-cert.yaml")
	if err := os.WriteFile(noCertPath, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	mark = vs.logSize(t)
	code, stderr := runBounded(t, 60*time.Second, serveEnv, signetBin, "serve", "--config", noCertPath,
		"--identity-config", idPath, "--addr", freeAddr(t))
	if code == 0 {
		t.Errorf("serve without a client certificate exited 0:\n%s", stderr)
	}
	checkTLSRefusal(t, "serve without a client certificate", stderr, vs, mark, "tls: client didn't provide a certificate")
}

// checkTLSRefusal checks that a signet command failed reaching the
// mutual-TLS listener at the TLS layer, and that Vault's log since mark
// records the handshake error serverReason.
func checkTLSRefusal(t *testing.T, what, stderr string, vs *mtlsVault, mark int64, serverReason string) {
	t.Helper()
	if !strings.Contains(stderr, vs.mtlsAddr) {
		t.Errorf("%s: the error does not name %s: %s", what, vs.mtlsAddr, stderr)
	}
	clientSigns := []string{"remote error: tls: ", "broken pipe", "connection reset by peer", "client conn could not be established"}
	if !slices.ContainsFunc(clientSigns, func(s string) bool { return strings.Contains(stderr, s) }) {
		t.Errorf("%s: want a TLS refusal (one of %q), got: %s", what, clientSigns, stderr)
	}
	want := "TLS handshake error from 127.0.0.1:"
	deadline := time.Now().Add(5 * time.Second)
	for {
		log := vs.logSince(t, mark)
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, want) && strings.Contains(line, serverReason) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: vault did not log %q ... %q; its log since:\n%s", what, want, serverReason, log)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runBounded runs a command that must exit by itself within limit and
// returns its exit code and stderr; it fails the test if it is still running.
func runBounded(t *testing.T, limit time.Duration, env []string, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), errb.String()
		} else if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return 0, errb.String()
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %s still running after %v, want it to exit:\n%s", filepath.Base(name), strings.Join(args, " "), limit, errb.String())
		return 0, ""
	}
}
