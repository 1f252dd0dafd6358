package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// IssuerFarm serves mock issuers at their real-world URLs
// (https://token.actions.githubusercontent.com, https://token.actions.octo.ghe.com,
// https://ghes.example.com/_services/token, ...) from one TLS server: Client
// dials every host to it, so discovery and JWKS fetches are real HTTPS
// requests. The server's certificate chains to CAPEM, which Client does not
// trust: an issuer is reachable only with `ca-cert: <CAPEM>`, unless the
// test uses TrustingClient.
type IssuerFarm struct {
	// Client reaches the farm for any host, trusting only the system roots.
	Client *http.Client
	// TrustingClient reaches the farm and trusts its CA.
	TrustingClient *http.Client
	// CAPEM is the PEM certificate of the CA the farm's TLS chains to.
	CAPEM string

	issuers map[string]*oidcmock.Issuer

	mu   sync.Mutex
	seen []string // "sni:<host>" per TLS handshake, "https://<host><path>" per request
}

// StartIssuerFarm starts mock issuers at urls (https only) and stops them
// with the test.
func StartIssuerFarm(t testing.TB, urls ...string) *IssuerFarm {
	t.Helper()
	f := &IssuerFarm{issuers: map[string]*oidcmock.Issuer{}}
	var hosts []string
	for _, u := range urls {
		iss, err := oidcmock.New(u)
		if err != nil {
			t.Fatal(err)
		}
		iss.SetClock(testclock.Now)
		f.issuers[iss.URL()] = iss
		pu, err := url.Parse(iss.URL())
		if err != nil || pu.Scheme != "https" {
			t.Fatalf("farm issuer %q must be an https URL", u)
		}
		hosts = append(hosts, pu.Hostname())
	}
	caPEM, leaf, caPool := farmCertificates(t, hosts)
	f.CAPEM = caPEM
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.TLS = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			f.record("sni:" + hello.ServerName)
			return &leaf, nil
		},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
	}
	f.Client = &http.Client{Transport: &http.Transport{DialContext: dial}}
	f.TrustingClient = &http.Client{Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}}}
	return f
}

// Issuer returns the farm issuer at url, failing the test if there is none.
func (f *IssuerFarm) Issuer(t testing.TB, url string) *oidcmock.Issuer {
	t.Helper()
	iss, ok := f.issuers[strings.TrimRight(url, "/")]
	if !ok {
		t.Fatalf("no farm issuer at %q", url)
	}
	return iss
}

// Seen returns every TLS server name and request URL the farm received.
func (f *IssuerFarm) Seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func (f *IssuerFarm) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, s)
}

// serve routes a request to the issuer of its host with the longest path
// prefix, and strips that prefix.
func (f *IssuerFarm) serve(w http.ResponseWriter, r *http.Request) {
	f.record("https://" + r.Host + r.URL.Path)
	var best *oidcmock.Issuer
	var bestPrefix string
	for u, iss := range f.issuers {
		pu, _ := url.Parse(u)
		if pu.Host != r.Host || !(r.URL.Path == pu.Path || strings.HasPrefix(r.URL.Path, pu.Path+"/")) {
			continue
		}
		if best == nil || len(pu.Path) > len(bestPrefix) {
			best, bestPrefix = iss, pu.Path
		}
	}
	if best == nil {
		http.NotFound(w, r)
		return
	}
	http.StripPrefix(bestPrefix, best.Handler()).ServeHTTP(w, r)
}

// farmCertificates makes a CA and a server certificate for hosts.
func farmCertificates(t testing.TB, hosts []string) (caPEM string, leaf tls.Certificate, pool *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := testclock.WallNow() // crypto/tls checks these on the wall clock
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signet test issuer farm CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "issuer farm"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: hosts, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	return caPEM, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}, pool
}
