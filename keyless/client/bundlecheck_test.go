package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/test/testclock"
)

// TestBundleIsChecked: the client refuses a bundle that is not for its
// request (another key, other content, another media type), so that a
// misbehaving server or proxy cannot make `signet sign` write a bundle
// that will not verify, and accepts the one that is.
func TestBundleIsChecked(t *testing.T) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// certify issues a certificate over pub, as a CA would.
	certify := func(pub any) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: testclock.Now(), NotAfter: testclock.Now().Add(10 * time.Minute)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	type request struct {
		PublicKey        struct{ Content string } `json:"publicKey"`
		MessageSignature map[string]any           `json:"messageSignature"`
		DSSEEnvelope     map[string]any           `json:"dsseEnvelope"`
	}
	for _, tc := range []struct {
		name    string
		edit    func(b map[string]any, req request)
		dsse    bool
		wantErr string
	}{
		{"the bundle for this request", func(map[string]any, request) {}, false, ""},
		{"the DSSE bundle for this request", func(map[string]any, request) {}, true, ""},
		{"another key certified", func(b map[string]any, _ request) {
			b["verificationMaterial"] = map[string]any{"certificate": map[string]any{"rawBytes": certify(otherKey.Public())}}
		}, false, "certifies another key"},
		{"another artifact's digest", func(b map[string]any, req request) {
			other := sha256.Sum256([]byte("another artifact"))
			b["messageSignature"] = map[string]any{"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": other[:]},
				"signature": req.MessageSignature["signature"]}
		}, false, "does not hold this artifact's digest"},
		{"a message signature for a DSSE request", func(b map[string]any, _ request) {
			delete(b, "dsseEnvelope")
			b["messageSignature"] = map[string]any{"signature": []byte("x")}
		}, true, "does not hold this statement's DSSE envelope"},
		{"another media type", func(b map[string]any, _ request) {
			b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1"
		}, false, "media type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req request
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					t.Error(err)
					return
				}
				block, _ := pem.Decode([]byte(req.PublicKey.Content))
				pub, err := x509.ParsePKIXPublicKey(block.Bytes)
				if err != nil {
					t.Error(err)
					return
				}
				b := map[string]any{
					"mediaType":            bundle.MediaType,
					"verificationMaterial": map[string]any{"certificate": map[string]any{"rawBytes": certify(pub)}},
				}
				if req.DSSEEnvelope != nil {
					b["dsseEnvelope"] = req.DSSEEnvelope
				} else {
					b["messageSignature"] = req.MessageSignature
				}
				tc.edit(b, req)
				_ = json.NewEncoder(w).Encode(b)
			}))
			defer srv.Close()
			c := &Client{BaseURL: srv.URL, Attempts: 1}
			token := testToken(t)
			var err error
			if tc.dsse {
				_, err = c.SignDSSE(t.Context(), token, "application/vnd.in-toto+json", []byte(`{"_type":"x"}`))
			} else {
				_, err = c.SignArtifact(t.Context(), token, sha256.Sum256([]byte("this artifact")))
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want the bundle accepted", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want a refusal with %q", err, tc.wantErr)
			}
		})
	}
}

// testToken is a signed JWT with a sub, all TokenChallenge reads.
func testToken(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(jwt.Claims{Subject: "repo:acme/widgets:ref:refs/tags/v1"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
