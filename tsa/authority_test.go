package tsa

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/signet-dev/signet/internal/pki"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/testclock"
)

// testCA is a root or intermediate that issues test certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return k
}

// issue signs tmpl for key with issuer (self-signed when issuer is nil).
func issue(t *testing.T, tmpl *x509.Certificate, key *ecdsa.PrivateKey, issuer *testCA) testCA {
	t.Helper()
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.cert, issuer.key
	}
	c, err := pki.CreateCertificate(t.Context(), tmpl, parent, &key.PublicKey, pki.LocalSigner{Key: signer})
	if err != nil {
		t.Fatalf("createCertificate: %v", err)
	}
	return testCA{cert: c, key: key}
}

func caTemplate(t *testing.T, cn string, now time.Time, eku ...x509.ExtKeyUsage) *x509.Certificate {
	serial, err := pki.RandomSerial()
	if err != nil {
		t.Fatal(err)
	}
	return &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{Organization: []string{"test"}, CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, ExtKeyUsage: eku,
	}
}

func leafTemplate(t *testing.T, now time.Time) *x509.Certificate {
	tmpl, err := LeafTemplate("test", "test TSA", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func ekuExtension(t *testing.T, critical bool, oids ...asn1.ObjectIdentifier) []pkix.Extension {
	v, err := asn1.Marshal(oids)
	if err != nil {
		t.Fatal(err)
	}
	return []pkix.Extension{{Id: oidExtKeyUsage(), Critical: critical, Value: v}}
}

func TestNewChecksChain(t *testing.T) {
	now := testclock.Now()
	codeSigning := asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
	// leafWith issues a TSA leaf from root after edit changes its template.
	leafWith := func(root testCA, edit func(*x509.Certificate)) (testCA, *ecdsa.PrivateKey) {
		tmpl := leafTemplate(t, now)
		if edit != nil {
			edit(tmpl)
		}
		k := newKey(t, elliptic.P256())
		return issue(t, tmpl, k, &root), k
	}
	root := issue(t, caTemplate(t, "root", now), newKey(t, elliptic.P384()), nil)
	chain := func(edit func(*x509.Certificate)) pki.KeyChain {
		leaf, k := leafWith(root, edit)
		return pki.KeyChain{Signer: pki.LocalSigner{Key: k}, Chain: []*x509.Certificate{leaf.cert, root.cert}}
	}
	withIntermediate := func(eku ...x509.ExtKeyUsage) pki.KeyChain {
		inter := issue(t, caTemplate(t, "intermediate", now, eku...), newKey(t, elliptic.P384()), &root)
		leaf, k := leafWith(inter, nil)
		return pki.KeyChain{Signer: pki.LocalSigner{Key: k}, Chain: []*x509.Certificate{leaf.cert, inter.cert, root.cert}}
	}
	good := chain(nil)

	tests := []struct {
		name    string
		key     pki.KeyChain
		clock   func() time.Time
		wantErr string // empty: New must succeed
	}{
		{name: "good", key: good},
		{name: "good with timeStamping intermediate", key: withIntermediate(x509.ExtKeyUsageTimeStamping)},
		{name: "leaf is a CA", key: chain(func(c *x509.Certificate) { c.IsCA = true; c.KeyUsage |= x509.KeyUsageCertSign }), wantErr: "is a CA"},
		{name: "EKU not critical", key: chain(func(c *x509.Certificate) {
			c.ExtraExtensions = nil
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
		}), wantErr: "non-critical"},
		{name: "extra EKU", key: chain(func(c *x509.Certificate) {
			c.ExtraExtensions = ekuExtension(t, true, oidTimeStamping(), codeSigning)
		}), wantErr: "2 extended key usages"},
		{name: "wrong EKU", key: chain(func(c *x509.Certificate) { c.ExtraExtensions = ekuExtension(t, true, codeSigning) }), wantErr: "exactly one, timeStamping"},
		{name: "no EKU", key: chain(func(c *x509.Certificate) { c.ExtraExtensions = nil }), wantErr: "no extended key usage"},
		{name: "key usage without digitalSignature", key: chain(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment }), wantErr: "digitalSignature"},
		{name: "key usage with more than signatures", key: chain(func(c *x509.Certificate) {
			c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		}), wantErr: "digitalSignature and/or nonRepudiation only"},
		{name: "key usage nonRepudiation", key: chain(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageContentCommitment })},
		{name: "key mismatch", key: pki.KeyChain{Signer: pki.LocalSigner{Key: newKey(t, elliptic.P256())}, Chain: good.Chain}, wantErr: "does not match"},
		{name: "intermediate without timeStamping", key: withIntermediate(x509.ExtKeyUsageCodeSigning), wantErr: "restricts extended key usages without timeStamping"},
		{name: "intermediate without EKU (unrestricted)", key: withIntermediate()},
		{name: "intermediate with any EKU", key: withIntermediate(x509.ExtKeyUsageAny)},
		{name: "leaf only", key: pki.KeyChain{Signer: good.Signer, Chain: good.Chain[:1]}, wantErr: "needs the TSA leaf and its root"},
		{name: "root first", key: pki.KeyChain{Signer: good.Signer, Chain: []*x509.Certificate{good.Chain[1], good.Chain[0]}}, wantErr: "does not match"},
		{name: "no signer", key: pki.KeyChain{Chain: good.Chain}, wantErr: "no signer"},
		{name: "expired leaf", key: good, clock: func() time.Time { return now.Add(2 * time.Hour) }, wantErr: "expired"},
		{name: "unsupported curve", key: func() pki.KeyChain {
			k := newKey(t, elliptic.P224())
			leaf := issue(t, leafTemplate(t, now), k, &root)
			return pki.KeyChain{Signer: pki.LocalSigner{Key: k}, Chain: []*x509.Certificate{leaf.cert, root.cert}}
		}(), wantErr: "unsupported ECDSA curve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := tt.clock
			if clock == nil {
				clock = func() time.Time { return now }
			}
			_, err := New(Options{Key: tt.key, Clock: clock})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("New accepted the chain, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("New: %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewDevChainLeaf(t *testing.T) {
	now := testclock.Now()
	key, err := NewDevChain("org", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, root := key.Chain[0], key.Chain[1]
	checks := []struct {
		what string
		ok   bool
	}{
		{"leaf parses EKU timeStamping", len(leaf.ExtKeyUsage) == 1 && leaf.ExtKeyUsage[0] == x509.ExtKeyUsageTimeStamping},
		{"leaf not CA", !leaf.IsCA && leaf.BasicConstraintsValid},
		{"leaf digitalSignature", leaf.KeyUsage == x509.KeyUsageDigitalSignature},
		{"leaf O", len(leaf.Subject.Organization) == 1 && leaf.Subject.Organization[0] == "org"},
		{"root CA", root.IsCA},
		{"P-384", leaf.PublicKey.(*ecdsa.PublicKey).Curve == elliptic.P384() && root.PublicKey.(*ecdsa.PublicKey).Curve == elliptic.P384()},
		{"long-lived", leaf.NotAfter.After(now.Add(9*365*24*time.Hour)) && leaf.NotBefore.Before(now)},
		{"serial <= 20 bytes", len(leaf.SerialNumber.Bytes()) <= 20 && leaf.SerialNumber.Sign() > 0},
		{"leaf subject key id (RFC 5280 4.2.1.2)", len(leaf.SubjectKeyId) == 20},
		{"leaf AKI is the root's SKI", len(root.SubjectKeyId) > 0 && string(leaf.AuthorityKeyId) == string(root.SubjectKeyId)},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: wrong", c.what)
		}
	}
	if _, err := New(Options{Key: key, Clock: func() time.Time { return now }}); err != nil {
		t.Fatalf("New over the dev chain: %v", err)
	}
}

// failingSigner is a key store that is down.
type failingSigner struct{ pub crypto.PublicKey }

func (f failingSigner) Public() crypto.PublicKey { return f.pub }

func (f failingSigner) SignDigest(context.Context, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("vault: connection refused")
}

func TestSignerFailureIs503(t *testing.T) {
	now := testclock.Now()
	key, err := NewDevChain("org", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	key.Signer = failingSigner{pub: key.Signer.Public()}
	auth, err := New(Options{Key: key, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.TimestampSignature(t.Context(), []byte("sig")); problem.StatusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("TimestampSignature: %v (status %d), want 503", err, problem.StatusOf(err))
	}
	r := mux.NewRouter()
	(&API{Authority: auth}).Register(r)
	rec := newRecorder(r, ContentTypeJSON, []byte(`{"artifactHash":"`+strings.Repeat("A", 43)+`=","hashAlgorithm":"sha256"}`))
	var pb problem.Body
	if rec.Code != http.StatusServiceUnavailable || json.Unmarshal(rec.Body.Bytes(), &pb) != nil || pb.Code != "unavailable" {
		t.Fatalf("HTTP: status %d body %s, want 503 unavailable", rec.Code, rec.Body)
	}
}
