package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/testclock"
	"github.com/signet-dev/signet/test/vaultdev"
)

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
	devPort, err := vaultdev.FreePortPair(nil)
	if err != nil {
		return nil, err
	}
	mtlsPort, err := vaultdev.FreePortPair(map[int]bool{devPort: true, devPort + 1: true})
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
	deadline := testclock.WallNow().Add(30 * time.Second)
	for !healthy(plain, v.devAddr) || !healthy(mutual, v.mtlsAddr) {
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("vault exited during startup; log %s:\n%s", logPath, b)
		default:
		}
		if testclock.WallNow().After(deadline) {
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
