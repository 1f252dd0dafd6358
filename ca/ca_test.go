package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/signet-dev/signet/ca"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/testclock"
)

type uriSAN string

func (u uriSAN) Embed(c *x509.Certificate) error {
	parsed, err := url.Parse(string(u))
	if err != nil {
		return err
	}
	c.URIs = []*url.URL{parsed}
	return nil
}

// memoryCA is a memory CA made at now, the time its tests issue at.
func memoryCA(t *testing.T, now time.Time) pki.KeyChain {
	t.Helper()
	kc, err := ca.NewMemoryCA(context.Background(), "Acme", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func TestIssue(t *testing.T) {
	now := testclock.Now().UTC().Truncate(time.Second)
	kc := memoryCA(t, now)
	iss, err := ca.NewIssuer(kc, 10*time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, err := iss.Issue(context.Background(), key.Public(), uriSAN("https://github.com/acme/widgets/.github/workflows/r.yml@refs/heads/main"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"signed by the intermediate", leaf.CheckSignatureFrom(kc.Chain[0]) == nil},
		{"not before is now", leaf.NotBefore.Equal(now)},
		{"lives the lifetime", leaf.NotAfter.Sub(leaf.NotBefore) == 10*time.Minute},
		{"20-byte positive serial", len(leaf.SerialNumber.Bytes()) == 20 && leaf.SerialNumber.Sign() > 0},
		{"digitalSignature only", leaf.KeyUsage == x509.KeyUsageDigitalSignature},
		{"codeSigning only", len(leaf.ExtKeyUsage) == 1 && leaf.ExtKeyUsage[0] == x509.ExtKeyUsageCodeSigning},
		{"not a CA", !leaf.IsCA},
		{"has a subject key id, as Fulcio's leaves do", len(leaf.SubjectKeyId) == 20},
		{"AKI is the intermediate's SKI", string(leaf.AuthorityKeyId) == string(kc.Chain[0].SubjectKeyId)},
		{"issuer has one O", len(leaf.Issuer.Organization) == 1 && leaf.Issuer.Organization[0] == "Acme"},
		{"over the requested key", pki.SamePublicKey(leaf.PublicKey, key.Public())},
	} {
		if !c.ok {
			t.Errorf("issued certificate: %s fails", c.name)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(kc.Chain[1])
	inter := x509.NewCertPool()
	inter.AddCert(kc.Chain[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now.Add(time.Minute),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Errorf("chain does not verify for code signing: %v", err)
	}
}

// failingSigner is a key store that is down.
type failingSigner struct{ pki.KeySigner }

func (f failingSigner) SignDigest(context.Context, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("connection refused")
}

func TestIssueBackendDownIsUnavailable(t *testing.T) {
	kc := memoryCA(t, testclock.Now())
	down, err := ca.NewIssuer(pki.KeyChain{Signer: failingSigner{kc.Signer}, Chain: kc.Chain}, 10*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err = down.Issue(context.Background(), key.Public(), uriSAN("https://x/y"))
	if problem.StatusOf(err) != 503 {
		t.Errorf("backend failure: status %d (%v), want 503", problem.StatusOf(err), err)
	}
}

func TestNewIssuerRefusesAZeroLifetime(t *testing.T) {
	a := memoryCA(t, testclock.Now())
	if _, err := ca.NewIssuer(a, 0, nil); err == nil {
		t.Error("NewIssuer accepted a zero lifetime")
	}
}
