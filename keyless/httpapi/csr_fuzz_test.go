package httpapi

import (
	"bytes"
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
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/keyless"
)

// FuzzParseCSR feeds arbitrary bytes to the parser of the
// certificateSigningRequest of POST /api/v2/signingCert (PEM or bare DER):
// it must never panic and refuse only with a 400. A CSR it accepts
// re-parses from its own DER to the same request, and the checks the
// flow then runs on it (signature, key) never panic.
//
//	go test -run '^$' -fuzz '^FuzzParseCSR$' -fuzztime 30s -parallel 1 ./keyless/httpapi/
func FuzzParseCSR(f *testing.F) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	signers := []crypto.Signer{rsaKey, edKey}
	for _, curve := range []elliptic.Curve{elliptic.P224(), elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		signers = append(signers, k)
	}
	for _, k := range signers {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: "ignored"}, DNSNames: []string{"a.example.com"}, EmailAddresses: []string{"dev@example.com"},
		}, k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
		f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
		f.Add(pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der, Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}}))
		tampered := bytes.Clone(der)
		tampered[len(tampered)-3] ^= 0x5a
		f.Add(tampered)
		f.Add(append(bytes.Clone(der), 0)) // trailing data
	}
	for _, s := range []string{"", "\x30\x00", "\x30\x80\x00\x00", "-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END CERTIFICATE REQUEST-----\n", "not a csr"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		timer := time.AfterFunc(20*time.Second, func() { panic(fmt.Sprintf("fuzz: one input ran over 20s: %q", data)) })
		defer timer.Stop()
		csr, err := parseCSR(data)
		if err != nil {
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest {
				t.Fatalf("refusal of %q is not a 400: %v", data, err)
			}
			return
		}
		again, err := x509.ParseCertificateRequest(csr.Raw)
		if err != nil {
			t.Fatalf("accepted %q, whose DER does not parse again: %v", data, err)
		}
		if !bytes.Equal(again.RawTBSCertificateRequest, csr.RawTBSCertificateRequest) || !bytes.Equal(again.Signature, csr.Signature) {
			t.Fatalf("accepted %q, which parses to another request from its own DER", data)
		}
		if csr.CheckSignature() != nil {
			return
		}
		if err := keyless.CheckKey(csr.PublicKey); err != nil {
			if problem.StatusOf(err) != http.StatusBadRequest {
				t.Fatalf("key of %q refused with status %d, not 400: %v", data, problem.StatusOf(err), err)
			}
			return
		}
		if _, err := x509.MarshalPKIXPublicKey(csr.PublicKey); err != nil {
			t.Fatalf("accepted the key of %q, which does not encode: %v", data, err)
		}
	})
}
