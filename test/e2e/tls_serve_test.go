package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// tlsCA issues serving certificates for 127.0.0.1 in a test.
type tlsCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string // path of the CA certificate, for SSL_CERT_FILE
}

func newTLSCA(t *testing.T, dir string) *tlsCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := testclock.WallNow()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signet test TLS CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := filepath.Join(dir, "tls-ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &tlsCA{cert: cert, key: key, pem: p}
}

// issue writes a serving certificate for 127.0.0.1 with serial and its key
// to certFile and keyFile.
func (ca *tlsCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := testclock.WallNow()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(serial),
		Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// servedSerial is the serial of the certificate a TLS server presents.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestServeTLS: signet serves HTTPS itself from tls-cert-file and
// tls-key-file; `signet sign` and `signet verify` work over it (trusting
// the test CA through SSL_CERT_FILE); a certificate renewed in place is
// served without a restart; a key that does not match its certificate
// stops the start with both files named.
func TestServeTLS(t *testing.T) {
	iss, err := oidcmock.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	iss.SetRunnerClaims(releaseClaims())
	configPath, identityPath := fileBackedConfig(t, iss.URL())
	dir := filepath.Dir(configPath)
	ca := newTLSCA(t, dir)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.issue(t, 100, certFile, keyFile)
	cfg := readFile(t, configPath)
	if err := os.WriteFile(configPath, append(cfg, []byte("tls-cert-file: "+certFile+"\ntls-key-file: "+keyFile+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	addr := strings.TrimPrefix(startServerOver(t, nil, hc, "https://", "/healthz", "--config", configPath, "--identity-config", identityPath).URL, "https://")

	env := []string{"SSL_CERT_FILE=" + ca.pem, "ACTIONS_ID_TOKEN_REQUEST_URL=" + iss.URL() + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + iss.RequestToken()}
	art := filepath.Join(dir, "artifact.txt")
	if err := os.WriteFile(art, []byte("over https\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, signetBin, "sign", art, "--server", "https://"+addr)
	mustRun(t, env, signetBin, "verify", art, "--server", "https://"+addr, "--insecure-server-root",
		"--certificate-identity", wantSAN, "--certificate-oidc-issuer", iss.URL())
	if !strings.Contains(string(fetchWith(t, hc, "https://"+addr+"/api/v1/signingconfig")), `"https://`+addr) {
		t.Error("the signing config does not name the https URL")
	}

	ca.issue(t, 101, certFile, keyFile) // renewed in place
	deadline := time.Now().Add(10 * time.Second)
	for servedSerial(t, addr, roots) != 101 {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served within 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	mustRun(t, env, signetBin, "verify", art, "--server", "https://"+addr, "--insecure-server-root",
		"--certificate-identity", wantSAN, "--certificate-oidc-issuer", iss.URL())

	t.Run("mismatched key", func(t *testing.T) {
		otherCert, otherKey := filepath.Join(dir, "other.crt"), filepath.Join(dir, "other.key")
		ca.issue(t, 200, otherCert, otherKey)
		bad := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(bad, append(cfg, []byte("tls-cert-file: "+certFile+"\ntls-key-file: "+otherKey+"\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(signetBin, "serve", "--config", bad, "--identity-config", identityPath, "--addr", freeAddr(t)).CombinedOutput()
		if err == nil {
			t.Fatal("serve started with a key that does not match its certificate")
		}
		for _, want := range []string{certFile, otherKey, "does not match"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("the refusal does not say %q:\n%s", want, out)
			}
		}
	})
}

// fetchWith GETs url with hc and returns the body of a 200.
func fetchWith(t *testing.T, hc *http.Client, url string) []byte {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}
