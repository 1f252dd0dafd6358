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
	"strings"
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

// chainUnder makes a CA chain at now whose intermediate, made by
// IntermediateTemplate then edited by edit, is valid from notBefore.
func chainUnder(t *testing.T, now, notBefore time.Time, edit func(*x509.Certificate)) pki.KeyChain {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl, err := pki.RootTemplate("Acme", "Acme root", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	root, err := pki.CreateCertificate(context.Background(), rootTmpl, nil, rootKey.Public(), pki.LocalSigner{Key: rootKey})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ca.IntermediateTemplate("Acme", "Acme intermediate", notBefore, now.Add(12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(tmpl)
	}
	inter, err := pki.CreateCertificate(context.Background(), tmpl, root, interKey.Public(), pki.LocalSigner{Key: rootKey})
	if err != nil {
		t.Fatal(err)
	}
	return pki.KeyChain{Signer: pki.LocalSigner{Key: interKey}, Chain: []*x509.Certificate{inter, root}}
}

// TestCAChainChecks: a chain whose intermediate restricts its extended key
// usages without codeSigning is refused at start (each leaf would fail
// verification), and an intermediate not yet valid issues nothing (503).
func TestCAChainChecks(t *testing.T) {
	now := testclock.Now().UTC().Truncate(time.Second)
	for _, tt := range []struct {
		name string
		eku  []x509.ExtKeyUsage
		ok   bool
	}{
		{"codeSigning", []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, true},
		{"none: unrestricted", nil, true},
		{"any", []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, true},
		{"server and client auth only", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, false},
	} {
		kc := chainUnder(t, now, now.Add(-time.Minute), func(c *x509.Certificate) { c.ExtKeyUsage = tt.eku })
		_, err := ca.NewIssuer(kc, 10*time.Minute, func() time.Time { return now })
		if (err == nil) != tt.ok {
			t.Errorf("%s: NewIssuer = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err := ca.CheckCodeSigningChain(kc.Chain); (err == nil) != tt.ok {
			t.Errorf("%s: CheckCodeSigningChain = %v, want ok %v", tt.name, err, tt.ok)
		}
	}

	early := chainUnder(t, now, now.Add(time.Hour), nil)
	iss, err := ca.NewIssuer(early, 10*time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err = iss.Issue(context.Background(), key.Public(), uriSAN("https://x/y"))
	if problem.StatusOf(err) != 503 || !strings.Contains(err.Error(), "is not valid until") {
		t.Errorf("Issue under an intermediate valid from an hour on = %v (status %d), want 503", err, problem.StatusOf(err))
	}
}
