package pki_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/test/testclock"
)

// devChain is a development chain whose child is a plain CA certificate.
func devChain(t *testing.T) pki.KeyChain {
	t.Helper()
	kc, err := pki.NewDevChain(t.Context(), "Acme", "Acme root", testclock.Now(), nil, func(nb, na time.Time) (*x509.Certificate, error) {
		serial, err := pki.RandomSerial()
		if err != nil {
			return nil, err
		}
		return &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{Organization: []string{"Acme"}, CommonName: "child"},
			NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func TestDevChain(t *testing.T) {
	now := testclock.Now()
	kc := devChain(t)
	root := kc.Chain[1]
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"two certificates", len(kc.Chain) == 2},
		{"checks", kc.Check() == nil},
		{"root is a CA with one O", root.IsCA && len(root.Subject.Organization) == 1},
		{"valid now", kc.Chain[0].NotBefore.Before(now) && kc.Chain[0].NotAfter.After(now.Add(pki.DevValidity-2*time.Hour))},
		{"P-384", kc.Signer.Public().(*ecdsa.PublicKey).Curve == elliptic.P384()},
	} {
		if !c.ok {
			t.Errorf("dev chain: %s fails", c.what)
		}
	}
}

func TestKeyChainCheck(t *testing.T) {
	a, b := devChain(t), devChain(t)
	for _, tc := range []struct {
		name string
		kc   pki.KeyChain
		want string
	}{
		{"valid", a, ""},
		{"key of another chain", pki.KeyChain{Signer: b.Signer, Chain: a.Chain}, "does not match"},
		{"child of another root", pki.KeyChain{Signer: a.Signer, Chain: []*x509.Certificate{a.Chain[0], b.Chain[1]}}, "is not signed by"},
		{"no self-signed root", pki.KeyChain{Signer: a.Signer, Chain: a.Chain[:1]}, "is not a self-signed root"},
		{"no certificates", pki.KeyChain{Signer: a.Signer}, "no certificates"},
		{"no signer", pki.KeyChain{Chain: a.Chain}, "no signer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.kc.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadFiles(t *testing.T) {
	kc := devChain(t)
	dir := t.TempDir()
	key := kc.Signer.(pki.LocalSigner).Key
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	otherDER, _ := x509.MarshalPKCS8PrivateKey(devChain(t).Signer.(pki.LocalSigner).Key)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	block := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	chain := write("chain.pem", pki.EncodeCertificatesPEM(kc.Chain))
	for _, tc := range []struct {
		name, key, chain, want string
	}{
		{"PKCS #8", write("k8.pem", block("PRIVATE KEY", der)), chain, ""},
		{"SEC 1", write("ec.pem", block("EC PRIVATE KEY", ecDER)), chain, ""},
		{"key of another chain", write("o.pem", block("PRIVATE KEY", otherDER)), chain, "does not match"},
		{"encrypted key", write("enc.pem", block("ENCRYPTED PRIVATE KEY", []byte{1})), chain, "decrypt"},
		{"not a key", write("cert.pem", block("CERTIFICATE", kc.Chain[0].Raw)), chain, "unknown private key PEM file type"},
		{"chain not PEM", write("k.pem", block("PRIVATE KEY", der)), write("bad.pem", []byte("nope")), "PEM decoding"},
		{"empty chain", write("k2.pem", block("PRIVATE KEY", der)), write("empty.pem", nil), "no PEM certificate"},
		{"missing file", filepath.Join(dir, "absent.pem"), chain, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pki.LoadFiles(tc.key, tc.chain)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("LoadFiles = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRandomSerialIsAlways20Bytes(t *testing.T) {
	for range 2000 {
		s, err := pki.RandomSerial()
		if err != nil {
			t.Fatal(err)
		}
		if s.Sign() <= 0 || len(s.Bytes()) != 20 || s.Bit(159) != 0 {
			t.Fatalf("serial %x is not a positive 20-byte number", s)
		}
	}
}

// downSigner is a key store that is down.
type downSigner struct{ pki.KeySigner }

func (downSigner) SignDigest(context.Context, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("connection refused")
}

// emptySigner is a broken key store that answers with no signature.
type emptySigner struct{ pki.KeySigner }

func (emptySigner) SignDigest(context.Context, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, nil
}

func TestCreateCertificateTellsSignerFailuresApart(t *testing.T) {
	kc := devChain(t)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := pki.RandomSerial()
	now := testclock.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: now, NotAfter: now.Add(time.Hour)}
	for _, tc := range []struct {
		name       string
		signer     pki.KeySigner
		pub        any
		signerFail bool
	}{
		{"works", kc.Signer, leafKey.Public(), false},
		{"key store down", downSigner{kc.Signer}, leafKey.Public(), true},
		{"empty signature", emptySigner{kc.Signer}, leafKey.Public(), true},
		{"public key x509 cannot encode", kc.Signer, struct{}{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := pki.CreateCertificate(t.Context(), tmpl, kc.Chain[0], tc.pub, tc.signer)
			switch {
			case tc.name == "works" && (err != nil || cert.CheckSignatureFrom(kc.Chain[0]) != nil):
				t.Fatalf("CreateCertificate: %v", err)
			case tc.name != "works" && err == nil:
				t.Fatal("CreateCertificate succeeded")
			case tc.name != "works" && errors.Is(err, pki.ErrSigner) != tc.signerFail:
				t.Errorf("errors.Is(%v, ErrSigner) = %v, want %v", err, !tc.signerFail, tc.signerFail)
			}
		})
	}
}

func TestDefaultHash(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
		want crypto.Hash // 0: refused
	}{
		{"P-256", p256.Public(), crypto.SHA256},
		{"P-384", p384.Public(), crypto.SHA384},
		{"P-521", p521.Public(), crypto.SHA512},
		{"RSA", rsaKey.Public(), crypto.SHA256},
		{"P-224", p224.Public(), 0},
		{"Ed25519", edPub, 0},
		{"none", nil, 0},
	} {
		h, err := pki.DefaultHash(tc.pub)
		if h != tc.want || (tc.want == 0) != (err != nil) {
			t.Errorf("%s: DefaultHash = %v, %v; want %v", tc.name, h, err, tc.want)
		}
	}
}
