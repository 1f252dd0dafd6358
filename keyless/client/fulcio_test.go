package client

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/test/testclock"
)

func TestSigningCertChain(t *testing.T) {
	kc, err := pki.NewDevChain(context.Background(), "Acme", "Acme root", testclock.Now(), nil,
		func(notBefore, notAfter time.Time) (*x509.Certificate, error) {
			return pki.RootTemplate("Acme", "Acme issuing", notBefore, notAfter)
		})
	if err != nil {
		t.Fatal(err)
	}
	var pems []string
	for _, c := range kc.Chain {
		pems = append(pems, string(pki.EncodeCertificatesPEM([]*x509.Certificate{c})))
	}
	answer := func(form string, certs []string) []byte {
		b, err := json.Marshal(map[string]any{form: map[string]any{"chain": map[string]any{"certificates": certs}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		body    []byte
		wantErr string
	}{
		{"embedded SCT", answer("signedCertificateEmbeddedSct", pems), ""},
		{"detached SCT", answer("signedCertificateDetachedSct", pems), ""},
		{"no chain", answer("signedCertificateEmbeddedSct", nil), "no chain"},
		{"not PEM", answer("signedCertificateEmbeddedSct", []string{"MIIB"}), "not one PEM certificate"},
		{"two certificates in one entry", answer("signedCertificateEmbeddedSct", []string{strings.Join(pems, "")}), "not one PEM certificate"},
		{"not JSON", []byte("<html>"), "signingCert answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain, err := SigningCertChain(tc.body)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) != len(kc.Chain) {
				t.Fatalf("%d certificates, want %d", len(chain), len(kc.Chain))
			}
			for i := range chain {
				if !bytes.Equal(chain[i].Raw, kc.Chain[i].Raw) {
					t.Errorf("certificate %d differs from the one sent", i)
				}
			}
		})
	}
}
