package httpapi_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/sigstore/fulcio/pkg/certificate"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/keyless/client"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
)

// reusableClaims is a release job that calls a reusable workflow of another
// repository, so every extension has a value of its own.
func reusableClaims() map[string]any {
	c := oidcmock.GitHubClaims("acme/widgets")
	c["sub"] = "repo:acme/widgets:environment:production"
	c["event_name"] = "release"
	c["ref"] = "refs/tags/v1.2.0"
	c["sha"] = "1111111111111111111111111111111111111111"
	c["workflow"] = "Release"
	c["workflow_ref"] = "acme/widgets/.github/workflows/release.yml@refs/tags/v1.2.0"
	c["workflow_sha"] = "2222222222222222222222222222222222222222"
	c["job_workflow_ref"] = "slsa-framework/builders/.github/workflows/go.yml@refs/tags/v2.0.0"
	c["job_workflow_sha"] = "3333333333333333333333333333333333333333"
	c["repository_id"] = "123456"
	c["repository_owner_id"] = "7890"
	c["run_id"] = "99887766"
	c["run_attempt"] = "2"
	c["repository_visibility"] = "private"
	c["runner_environment"] = "self-hosted"
	c["environment"] = "production"
	return c
}

func wantReusableExtensions(issuer string) certificate.Extensions {
	return certificate.Extensions{
		Issuer:                              issuer,
		GithubWorkflowTrigger:               "release",
		GithubWorkflowSHA:                   "1111111111111111111111111111111111111111",
		GithubWorkflowName:                  "Release",
		GithubWorkflowRepository:            "acme/widgets",
		GithubWorkflowRef:                   "refs/tags/v1.2.0",
		BuildSignerURI:                      "https://github.com/slsa-framework/builders/.github/workflows/go.yml@refs/tags/v2.0.0",
		BuildSignerDigest:                   "3333333333333333333333333333333333333333",
		RunnerEnvironment:                   "self-hosted",
		SourceRepositoryURI:                 "https://github.com/acme/widgets",
		SourceRepositoryDigest:              "1111111111111111111111111111111111111111",
		SourceRepositoryRef:                 "refs/tags/v1.2.0",
		SourceRepositoryIdentifier:          "123456",
		SourceRepositoryOwnerURI:            "https://github.com/acme",
		SourceRepositoryOwnerIdentifier:     "7890",
		BuildConfigURI:                      "https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/v1.2.0",
		BuildConfigDigest:                   "2222222222222222222222222222222222222222",
		BuildTrigger:                        "release",
		RunInvocationURI:                    "https://github.com/acme/widgets/actions/runs/99887766/attempts/2",
		SourceRepositoryVisibilityAtSigning: "private",
		DeploymentEnvironment:               "production",
		Subject:                             "repo:acme/widgets:environment:production",
	}
}

// fulcioConfigEnv starts signet with the Fulcio-format identity config of
// test/testdata, one mock issuer per configured issuer.
func fulcioConfigEnv(t *testing.T) (env *harness.Env, ci, email *oidcmock.Issuer) {
	t.Helper()
	ci, email = harness.StartIssuer(t), harness.StartIssuer(t)
	raw, err := os.ReadFile("../../test/testdata/fulcio-identity.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env = harness.Start(t, harness.Options{Configure: func(cfg *config.Config) {
		gh := cfg.Identity.OIDCIssuers
		var ghURL string
		for u := range gh {
			ghURL = u
		}
		doc := strings.NewReplacer("GITHUB_ISSUER", ghURL, "CI_ISSUER", ci.URL(), "EMAIL_ISSUER", email.URL()).Replace(string(raw))
		path := t.TempDir() + "/identity.yaml"
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := cfg.LoadIdentity(path); err != nil {
			t.Fatal(err)
		}
	}})
	return env, ci, email
}

type certCheck struct {
	name string
	ok   func(c *x509.Certificate) bool
}

func commonCertChecks(chain []*x509.Certificate) []certCheck {
	return []certCheck{
		{"empty subject", func(c *x509.Certificate) bool { return len(c.RawSubject) <= 2 }},
		{"SAN extension critical", func(c *x509.Certificate) bool { return extCritical(c, asn1.ObjectIdentifier{2, 5, 29, 17}) }},
		{"key usage digitalSignature only, critical", func(c *x509.Certificate) bool {
			return c.KeyUsage == x509.KeyUsageDigitalSignature && extCritical(c, asn1.ObjectIdentifier{2, 5, 29, 15})
		}},
		{"EKU codeSigning only", func(c *x509.Certificate) bool {
			return len(c.ExtKeyUsage) == 1 && c.ExtKeyUsage[0] == x509.ExtKeyUsageCodeSigning
		}},
		{"not a CA", func(c *x509.Certificate) bool { return !c.IsCA }},
		{"20-byte serial", func(c *x509.Certificate) bool { return len(c.SerialNumber.Bytes()) == 20 }},
		{"lives 10 minutes", func(c *x509.Certificate) bool { return c.NotAfter.Sub(c.NotBefore).Minutes() == 10 }},
		{"issuer DN has exactly one O", func(c *x509.Certificate) bool { return len(c.Issuer.Organization) == 1 }},
		{"signed by the intermediate", func(c *x509.Certificate) bool { return c.CheckSignatureFrom(chain[0]) == nil }},
		{"legacy issuer extension 1.1 raw", func(c *x509.Certificate) bool {
			v := extValue(c, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1})
			return v != nil && v[0] != 0x0c // raw bytes, not a DER UTF8String
		}},
		{"no unknown critical extensions", func(c *x509.Certificate) bool { return len(c.UnhandledCriticalExtensions) == 0 }},
	}
}

func extCritical(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Critical
		}
	}
	return false
}

func extValue(c *x509.Certificate, oid asn1.ObjectIdentifier) []byte {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Value
		}
	}
	return nil
}

// signingCertV2 calls the Fulcio v2 endpoint and returns the parsed chain.
func signingCertV2(t *testing.T, env *harness.Env, token string, body map[string]any) []*x509.Certificate {
	t.Helper()
	resp := env.PostJSON(t, "/api/v2/signingCert", token, body)
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	certs, err := client.SigningCertChain(resp.Body)
	if err != nil || len(certs) != 3 {
		t.Fatalf("chain: %d certificates, %v", len(certs), err)
	}
	return certs
}

func TestFulcioV2GitHubIdentity(t *testing.T) {
	env, ci, _ := fulcioConfigEnv(t)
	for _, tc := range []struct {
		name   string
		issuer *oidcmock.Issuer
	}{
		{"type github-workflow", env.GitHub},
		{"type ci-provider with Fulcio's templates", ci},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims := reusableClaims()
			token, err := tc.issuer.Mint(claims)
			if err != nil {
				t.Fatal(err)
			}
			key := newKey(t, elliptic.P256())
			certs := signingCertV2(t, env, "", map[string]any{
				"credentials": map[string]string{"oidcIdentityToken": token},
				"publicKeyRequest": map[string]any{
					"publicKey":         map[string]string{"algorithm": "ECDSA", "content": key.pem(t)},
					"proofOfPossession": key.sign(t, []byte(claims["sub"].(string))),
				},
			})
			leaf := certs[0]
			wantSAN := "https://github.com/slsa-framework/builders/.github/workflows/go.yml@refs/tags/v2.0.0"
			if len(leaf.URIs) != 1 || leaf.URIs[0].String() != wantSAN {
				t.Errorf("SAN = %v, want %s", leaf.URIs, wantSAN)
			}
			got, err := certificate.ParseExtensions(leaf.Extensions)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantReusableExtensions(tc.issuer.URL()); got != want {
				t.Errorf("extensions:\n got %+v\nwant %+v", got, want)
			}
			for _, check := range commonCertChecks(certs[1:]) {
				if !check.ok(leaf) {
					t.Errorf("certificate check failed: %s", check.name)
				}
			}
			if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(key.priv.Public()) {
				t.Error("certificate is not over the requested key")
			}
		})
	}
}

func TestFulcioV2EmailIdentity(t *testing.T) {
	env, _, email := fulcioConfigEnv(t)
	key := newKey(t, elliptic.P256())
	claims := map[string]any{"sub": "12345", "aud": "sigstore", "email": "dev@example.com", "email_verified": true}
	token, err := email.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"publicKeyRequest": map[string]any{
		"publicKey":         map[string]string{"content": key.pem(t)},
		"proofOfPossession": key.sign(t, []byte("dev@example.com")),
	}}
	leaf := signingCertV2(t, env, token, body)[0]
	if len(leaf.EmailAddresses) != 1 || leaf.EmailAddresses[0] != "dev@example.com" {
		t.Errorf("email SAN = %v", leaf.EmailAddresses)
	}
	claims["email_verified"] = false
	unverified, err := email.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	if resp := env.PostJSON(t, "/api/v2/signingCert", unverified, body); resp.Status != http.StatusUnauthorized {
		t.Errorf("unverified email: status %d, want 401: %s", resp.Status, resp.Body)
	}
}

func TestFulcioV2CSR(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	token, _ := githubToken(t, env, nil)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	leaf := signingCertV2(t, env, token, map[string]any{"certificateSigningRequest": csrPEM})[0]
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("certificate is not over the CSR's key")
	}
	tampered := bytes.Clone(der)
	tampered[len(tampered)-5] ^= 0xff
	resp := env.PostJSON(t, "/api/v2/signingCert", token, map[string]any{"certificateSigningRequest": tampered})
	if resp.Status != http.StatusBadRequest {
		t.Errorf("tampered CSR: status %d, want 400: %s", resp.Status, resp.Body)
	}
	resp = env.PostJSON(t, "/api/v2/signingCert", token, map[string]any{"certificateSigningRequest": []byte("not DER")})
	if resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), "certificate signing request is malformed: malformed DER") ||
		strings.Contains(string(resp.Body), "asn1") {
		t.Errorf("garbage CSR: status %d, want 400 saying malformed DER without the parser's internals: %s", resp.Status, resp.Body)
	}
}

func TestFulcioV1Legacy(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	token, _ := githubToken(t, env, nil)
	key := newKey(t, elliptic.P256())
	resp := env.PostJSON(t, "/api/v1/signingCert", token, map[string]any{
		"publicKey":          map[string]string{"algorithm": "ecdsa", "content": base64.StdEncoding.EncodeToString([]byte(key.pem(t)))},
		"signedEmailAddress": base64.StdEncoding.EncodeToString(key.sign(t, []byte(sub))),
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	certs, err := pki.ParseCertificatesPEM(resp.Body)
	if err != nil || len(certs) != 3 || certs[0].IsCA || !certs[2].IsCA {
		t.Fatalf("want leaf, intermediate, root: %d certificates, %v", len(certs), err)
	}
	root := env.Do(t, http.MethodGet, "/api/v1/rootCert", nil, nil)
	if rc, err := pki.ParseCertificatesPEM(root.Body); err != nil || len(rc) != 2 {
		t.Errorf("rootCert: %v", err)
	}
}

func TestTrustDocuments(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	for _, tc := range []struct{ path, want string }{
		{"/api/v1/trustedroot", `"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"`},
		{"/api/v1/signingconfig", `"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"`},
		{"/api/v2/trustBundle", `"chains":[{"certificates":["-----BEGIN CERTIFICATE-----`},
		{"/api/v2/configuration", `"issuerUrl":"` + env.GitHub.URL() + `"`},
		{"/healthz", `"status":"ok"`},
		{"/readyz", `"ready":true`},
	} {
		resp := env.Do(t, http.MethodGet, tc.path, nil, nil)
		compact := strings.ReplaceAll(string(resp.Body), " ", "")
		if resp.Status != http.StatusOK || !strings.Contains(compact, strings.ReplaceAll(tc.want, " ", "")) {
			t.Errorf("GET %s: %d %s; want it to contain %s", tc.path, resp.Status, resp.Body, tc.want)
		}
	}
	sc := env.Do(t, http.MethodGet, "/api/v1/signingconfig", nil, nil)
	if !strings.Contains(string(sc.Body), env.URL+"/api/v1/timestamp") {
		t.Errorf("signing config does not point at this server's TSA: %s", sc.Body)
	}
}

// TestBodyTokenBeforeHeader: as in Fulcio, the token in the request's
// credentials is used even when a gateway added its own Authorization
// header (another scheme, or a bearer token of its own); without one in
// the body, the header's bearer token is used and another scheme refused.
func TestBodyTokenBeforeHeader(t *testing.T) {
	env, _, _ := fulcioConfigEnv(t)
	claims := reusableClaims()
	token, err := env.GitHub.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t, elliptic.P256())
	keyRequest := map[string]any{
		"publicKey":         map[string]string{"algorithm": "ECDSA", "content": key.pem(t)},
		"proofOfPossession": key.sign(t, []byte(claims["sub"].(string))),
	}
	for _, tc := range []struct {
		name, header string
		inBody       bool
		status       int
	}{
		{"gateway basic auth, token in the body", "Basic Z2F0ZXdheTpzZWNyZXQ=", true, http.StatusOK},
		{"gateway bearer token, token in the body", "Bearer gateway.jwt.token", true, http.StatusOK},
		{"token in the header only", "Bearer " + token, false, http.StatusOK},
		{"basic auth only", "Basic Z2F0ZXdheTpzZWNyZXQ=", false, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"publicKeyRequest": keyRequest}
			if tc.inBody {
				body["credentials"] = map[string]string{"oidcIdentityToken": token}
			}
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			resp := env.Do(t, http.MethodPost, "/api/v2/signingCert",
				map[string]string{"Authorization": tc.header, "Content-Type": "application/json"}, bytes.NewReader(b))
			if resp.Status != tc.status {
				t.Errorf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
		})
	}
}
