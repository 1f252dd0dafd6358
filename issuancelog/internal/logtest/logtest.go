// Package logtest builds what the issuance log's tests need: a throwaway
// CA whose small certificates carry a SAN and a Fulcio issuer extension,
// checkpoint keys, and logs in temporary directories. Times come from
// testclock.
package logtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/issuancelog"
	"github.com/signet-dev/signet/test/testclock"
	"github.com/sigstore/fulcio/pkg/certificate"
)

// Origin is the origin of the tests' logs.
const Origin = "signet.test/log"

// CA issues test certificates.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	leaf *ecdsa.PrivateKey
}

// NewCA makes a self-signed CA valid around testclock.Now.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := testclock.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "logtest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// One subject key for every leaf keeps the tests fast.
	leaf, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{cert: cert, key: key, leaf: leaf}
}

// Leaf issues a certificate for san (an email address when it has an @,
// else a URI) with the Fulcio OIDC issuer extension set to issuer.
func (ca *CA) Leaf(t testing.TB, san, issuer string) []byte {
	t.Helper()
	return ca.LeafAt(t, san, issuer, testclock.Now())
}

// LeafAt is Leaf for a certificate valid from notBefore.
func (ca *CA) LeafAt(t testing.TB, san, issuer string, notBefore time.Time) []byte {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	exts, err := certificate.Extensions{Issuer: issuer}.Render()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: notBefore, NotAfter: notBefore.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: exts,
	}
	if strings.Contains(san, "@") {
		tmpl.EmailAddresses = []string{san}
	} else {
		u, err := url.Parse(san)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &ca.leaf.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// Signer makes a new checkpoint key named origin.
func Signer(t testing.TB, origin string) issuancelog.Signer {
	t.Helper()
	s, _, err := issuancelog.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Config is a posix log in dir publishing checkpoints every 100ms.
func Config(dir string) issuancelog.Config {
	return issuancelog.Config{Type: issuancelog.TypePOSIX, Dir: dir, Origin: Origin,
		CheckpointInterval: issuancelog.MinCheckpointInterval}
}

// Open opens a log of cfg and closes it when the test ends.
func Open(t testing.TB, cfg issuancelog.Config, s issuancelog.Signer) *issuancelog.Log {
	t.Helper()
	l, err := issuancelog.Open(t.Context(), cfg, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(t, l) })
	return l
}

// Close closes l within issuancelog.CloseTimeout, as a stopping server
// does (closing twice is harmless).
func Close(t testing.TB, l *issuancelog.Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), issuancelog.CloseTimeout)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Errorf("closing the log: %v", err)
	}
}

// Serve serves l's Handler under /api/v1/log as signet does, until the
// test ends, and returns the log's base URL and a client for it.
func Serve(t testing.TB, l *issuancelog.Log) (string, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/api/v1/log", l.Handler()))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v1/log", srv.Client()
}

// Append appends the certificates at once, as concurrent issuance does,
// and returns each one's index.
func Append(t testing.TB, l *issuancelog.Log, ders ...[]byte) []uint64 {
	t.Helper()
	idx := make([]uint64, len(ders))
	var wg sync.WaitGroup
	for i, der := range ders {
		wg.Go(func() {
			var err error
			if idx[i], err = l.Append(t.Context(), der); err != nil {
				t.Errorf("Append: %v", err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return idx
}
