package httpapi_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
)

// maxMessage bounds a refusal's message: client text it quotes is
// truncated.
const maxMessage = 512

// internalDetail returns the first fragment of msg that only the server's
// internals could have written (Go type and struct names from a decoder,
// ASN.1 struct tags, template errors), or "" when there is none: a
// refusal says what was wrong with the request, in its terms.
func internalDetail(msg string) string {
	for _, f := range []string{"Go value", "Go struct", "httpapi.", "{optional", "asn1:", "template:", "executing", "map["} {
		if strings.Contains(msg, f) {
			return f
		}
	}
	return ""
}

// testKey is a client key as a CI job would make one.
type testKey struct {
	priv crypto.Signer
}

func newKey(t testing.TB, curve elliptic.Curve) testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv: k}
}

func newRSAKey(t testing.TB, bits int) testKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv: k}
}

func (k testKey) pem(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// sign signs data with the hash Sigstore verifiers use for the key
// (SHA-256, or SHA-384/512 for P-384/P-521), ECDSA ASN.1 or RSA PKCS #1 v1.5.
func (k testKey) sign(t testing.TB, data []byte) []byte {
	t.Helper()
	hash := crypto.SHA256
	if ek, ok := k.priv.Public().(*ecdsa.PublicKey); ok {
		switch ek.Curve {
		case elliptic.P384():
			hash = crypto.SHA384
		case elliptic.P521():
			hash = crypto.SHA512
		}
	}
	h := hash.New()
	h.Write(data)
	sig, err := k.priv.Sign(rand.Reader, h.Sum(nil), hash)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// signRequest builds a valid one-shot request over artifact for sub.
func signRequest(t testing.TB, k testKey, sub string, artifact []byte) map[string]any {
	t.Helper()
	digest := sha256.Sum256(artifact)
	return map[string]any{
		"publicKey":         map[string]string{"content": k.pem(t)},
		"proofOfPossession": k.sign(t, []byte(sub)),
		"messageSignature": map[string]any{
			"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": digest[:]},
			"signature":     k.sign(t, artifact),
		},
	}
}

// githubToken mints a GitHub Actions token for acme/widgets, with overrides.
func githubToken(t testing.TB, env *harness.Env, override map[string]any) (string, map[string]any) {
	t.Helper()
	c := oidcmock.GitHubClaims("acme/widgets")
	for k, v := range override {
		c[k] = v
	}
	return env.Mint(t, c), c
}

// issuedCount reads every signet_certificates_issued_total line (one per
// kind of request) from /metrics.
func issuedCount(t testing.TB, env *harness.Env) string {
	t.Helper()
	resp := env.Do(t, "GET", "/metrics", nil, nil)
	var out []string
	for _, line := range strings.Split(string(resp.Body), "\n") {
		if strings.HasPrefix(line, "signet_certificates_issued_total") {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// certEndpoints are the three ways to get a certificate, each with a body
// built for a key and a proof of possession over challenge.
var certEndpoints = []struct {
	path string
	ok   int
	body func(t *testing.T, k testKey, challenge string) map[string]any
}{
	{"/api/v2/signingCert", http.StatusOK, func(t *testing.T, k testKey, challenge string) map[string]any {
		return map[string]any{"publicKeyRequest": map[string]any{
			"publicKey":         map[string]string{"algorithm": "ECDSA", "content": k.pem(t)},
			"proofOfPossession": k.sign(t, []byte(challenge)),
		}}
	}},
	{"/api/v1/signingCert", http.StatusCreated, func(t *testing.T, k testKey, challenge string) map[string]any {
		return map[string]any{
			"publicKey":          map[string]string{"algorithm": "ecdsa", "content": base64.StdEncoding.EncodeToString([]byte(k.pem(t)))},
			"signedEmailAddress": base64.StdEncoding.EncodeToString(k.sign(t, []byte(challenge))),
		}
	}},
	{"/api/v1/sign", http.StatusOK, func(t *testing.T, k testKey, challenge string) map[string]any {
		return signRequest(t, k, challenge, []byte("artifact"))
	}},
}
