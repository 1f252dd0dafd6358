package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/test/vaultdev"
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

// mtlsPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, plus a client certificate from another ("rogue") CA; all
// fields are PEM file paths.
type mtlsPKI struct {
	caCert                string
	serverCert, serverKey string
	clientCert, clientKey string
	rogueCert, rogueKey   string
	clientPair            tls.Certificate
	caPool                *x509.CertPool
}

func newMTLSPKI(t *testing.T, dir string) *mtlsPKI {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &mtlsPKI{caPool: x509.NewCertPool()}
	ca, caKey := mtlsIssue(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "signet e2e mTLS CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	})
	p.caPool.AddCert(ca)
	p.caCert = mtlsWrite(t, dir, "ca.pem", ca, nil)
	srv, srvKey := mtlsIssue(t, ca, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "vault"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.serverCert = mtlsWrite(t, dir, "server.pem", srv, nil)
	p.serverKey = mtlsWrite(t, dir, "server-key.pem", nil, srvKey)
	client := &x509.Certificate{
		Subject:  pkix.Name{CommonName: "signet"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cli, cliKey := mtlsIssue(t, ca, caKey, client)
	p.clientCert = mtlsWrite(t, dir, "client.pem", cli, nil)
	p.clientKey = mtlsWrite(t, dir, "client-key.pem", nil, cliKey)
	p.clientPair = tls.Certificate{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey}

	rogueCA, rogueCAKey := mtlsIssue(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "signet e2e mTLS CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	})
	rogue, rogueKey := mtlsIssue(t, rogueCA, rogueCAKey, client)
	p.rogueCert = mtlsWrite(t, dir, "rogue.pem", rogue, nil)
	p.rogueKey = mtlsWrite(t, dir, "rogue-key.pem", nil, rogueKey)
	return p
}

// mtlsIssue makes a P-256 key and a certificate from tmpl signed by parent
// (self-signed when parent is nil).
func mtlsIssue(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	c := *tmpl
	c.SerialNumber = serial
	now := testclock.WallNow() // Vault and crypto/tls check these on the wall clock
	c.NotBefore = now.Add(-time.Hour)
	c.NotAfter = now.Add(24 * time.Hour)
	if parent == nil {
		parent, parentKey = &c, key
	}
	der, err := x509.CreateCertificate(rand.Reader, &c, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// mtlsWrite writes a certificate or a private key as PEM and returns its path.
func mtlsWrite(t *testing.T, dir, name string, cert *x509.Certificate, key *ecdsa.PrivateKey) string {
	t.Helper()
	var block *pem.Block
	if cert != nil {
		block = &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mtlsVault is a real `vault server -dev` with a second listener that
// serves HTTPS and requires and verifies a client certificate.
type mtlsVault struct {
	devAddr   string // http://127.0.0.1:P, the dev listener
	mtlsAddr  string // https://127.0.0.1:Q, the mutual-TLS listener
	rootToken string
	logPath   string // the server's combined stdout and stderr
}

// logSize is the current length of the server's log.
func (v *mtlsVault) logSize(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(v.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// logSince is the server's log from offset mark on.
func (v *mtlsVault) logSince(t *testing.T, mark int64) string {
	t.Helper()
	b, err := os.ReadFile(v.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) < mark {
		return ""
	}
	return string(b[mark:])
}

// startMTLSVault starts the vault binary in dev mode with -config naming
// an extra listener with tls_require_and_verify_client_cert, and waits
// until both listeners answer. Cleanup kills it; its log is printed when
// the test fails.
func startMTLSVault(t *testing.T, dir string, pki *mtlsPKI) *mtlsVault {
	t.Helper()
	bin, err := vaultdev.Binary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	// Each listener also binds its port+1 (cluster address); the ports
	// were free a moment ago, but another process may take them: retry.
	for attempt := 1; attempt <= 3; attempt++ {
		v, err := tryStartMTLSVault(t, bin, dir, attempt, pki)
		if err == nil {
			return v
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("starting vault with a mutual-TLS listener: %v", lastErr)
	return nil
}

func tryStartMTLSVault(t *testing.T, bin, dir string, attempt int, pki *mtlsPKI) (*mtlsVault, error) {
	devPort, err := adjacentFreePorts(nil)
	if err != nil {
		return nil, err
	}
	mtlsPort, err := adjacentFreePorts(map[int]bool{devPort: true, devPort + 1: true})
	if err != nil {
		return nil, err
	}
	hcl := fmt.Sprintf(`listener "tcp" {
  address                            = "127.0.0.1:%d"
  cluster_address                    = "127.0.0.1:%d"
  tls_cert_file                      = %q
  tls_key_file                       = %q
  tls_client_ca_file                 = %q
  tls_require_and_verify_client_cert = true
}
`, mtlsPort, mtlsPort+1, pki.serverCert, pki.serverKey, pki.caCert)
	hclPath := filepath.Join(dir, fmt.Sprintf("mtls-listener-%d.hcl", attempt))
	if err := os.WriteFile(hclPath, []byte(hcl), 0o600); err != nil {
		return nil, err
	}
	v := &mtlsVault{
		devAddr:   "http://127.0.0.1:" + strconv.Itoa(devPort),
		mtlsAddr:  "https://127.0.0.1:" + strconv.Itoa(mtlsPort),
		rootToken: rand.Text(),
	}
	logPath := filepath.Join(dir, fmt.Sprintf("vault-%d.log", attempt))
	v.logPath = logPath
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(bin, "server", "-dev",
		"-dev-root-token-id="+v.rootToken,
		"-dev-listen-address=127.0.0.1:"+strconv.Itoa(devPort),
		"-dev-no-store-token",
		"-config="+hclPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	// No VAULT_* variable may change the server; HOME keeps any token
	// helper away from the developer's ~/.vault-token.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+dir)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	plain := &http.Client{Timeout: 2 * time.Second}
	mutual := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pki.caPool, Certificates: []tls.Certificate{pki.clientPair},
	}}}
	defer plain.CloseIdleConnections()
	defer mutual.CloseIdleConnections()
	healthy := func(c *http.Client, base string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/sys/health", nil)
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(30 * time.Second)
	for !healthy(plain, v.devAddr) || !healthy(mutual, v.mtlsAddr) {
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("vault exited during startup; log %s:\n%s", logPath, b)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("vault not ready within 30s; log %s:\n%s", logPath, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("vault log (%s):\n%s", logPath, b)
		}
	})
	return v, nil
}

// adjacentFreePorts returns a port P on 127.0.0.1 such that P and P+1 were
// both free a moment ago and neither is in avoid.
func adjacentFreePorts(avoid map[int]bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		if avoid[p] || avoid[p+1] {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		l.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("no two adjacent free ports on 127.0.0.1")
}
