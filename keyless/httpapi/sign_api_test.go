package httpapi_test

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

const sub = "repo:acme/widgets:ref:refs/heads/main"

func TestSignProducesVerifiableBundle(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	token, _ := githubToken(t, env, nil)
	artifact := []byte("release artifact v1.2.0\n")
	resp := env.PostJSON(t, "/api/v1/sign", token, signRequest(t, newKey(t, elliptic.P256()), sub, artifact))
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != bundle.MediaType {
		t.Errorf("Content-Type %q, want %q", ct, bundle.MediaType)
	}
	san := "https://github.com/acme/widgets/.github/workflows/release.yml@refs/heads/main"
	res, err := bundle.Verify(resp.Body, env.App.TrustedRoot(), strings.NewReader(string(artifact)),
		bundle.Identity{SAN: san, Issuer: env.GitHub.URL()})
	if err != nil {
		t.Fatalf("sigstore-go refuses the bundle: %v", err)
	}
	if len(res.VerifiedTimestamps) != 1 {
		t.Errorf("verified timestamps = %d, want 1", len(res.VerifiedTimestamps))
	}
	if _, err := bundle.Verify(resp.Body, env.App.TrustedRoot(), strings.NewReader("tampered"),
		bundle.Identity{SAN: san, Issuer: env.GitHub.URL()}); err == nil {
		t.Error("a tampered artifact verified")
	}
}

func TestSignRefusesBadInput(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	other := harness.StartIssuer(t)
	key := newKey(t, elliptic.P256())
	artifact := []byte("artifact")
	valid, _ := githubToken(t, env, nil)
	mint := func(claims map[string]any, opts oidcmock.MintOptions) string {
		c := oidcmock.GitHubClaims("acme/widgets")
		for k, v := range claims {
			c[k] = v
		}
		tok, err := env.GitHub.MintWith(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	untrusted, err := other.Mint(oidcmock.GitHubClaims("acme/widgets"))
	if err != nil {
		t.Fatal(err)
	}
	impersonation := oidcmock.GitHubClaims("acme/widgets")
	impersonation["iss"] = env.GitHub.URL()
	forged, err := other.Mint(impersonation)
	if err != nil {
		t.Fatal(err)
	}
	now := testclock.Now()
	req := func(mutate func(m map[string]any)) map[string]any {
		m := signRequest(t, key, sub, artifact)
		if mutate != nil {
			mutate(m)
		}
		return m
	}
	msg := func(m map[string]any) map[string]any { return m["messageSignature"].(map[string]any) }

	cases := []struct {
		name   string
		token  string
		header map[string]string
		body   any
		raw    string
		status int
		reason string // in the message of the answer
	}{
		{name: "no token", body: req(nil), status: 401, reason: "identity token is missing"},
		{name: "not a JWT", token: "abc", body: req(nil), status: 401, reason: "exactly three dot-separated parts"},
		{name: "four parts", token: valid + ".x", body: req(nil), status: 401, reason: "exactly three dot-separated parts"},
		{name: "expired", token: mint(map[string]any{"iat": now.Add(-time.Hour).Unix(), "nbf": now.Add(-time.Hour).Unix(), "exp": now.Add(-30 * time.Minute).Unix()}, oidcmock.MintOptions{}), body: req(nil), status: 401, reason: "expired at"},
		{name: "no exp", token: mint(map[string]any{"exp": nil}, oidcmock.MintOptions{}), body: req(nil), status: 401, reason: "has no exp claim"},
		{name: "not yet valid", token: mint(map[string]any{"nbf": now.Add(30 * time.Minute).Unix(), "iat": now.Add(30 * time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}, oidcmock.MintOptions{}), body: req(nil), status: 401, reason: "not valid yet"},
		{name: "issued in the future", token: mint(map[string]any{"iat": now.Add(10 * time.Minute).Unix()}, oidcmock.MintOptions{}), body: req(nil), status: 401, reason: "issued in the future"},
		{name: "wrong audience", token: mint(map[string]any{"aud": "not-sigstore"}, oidcmock.MintOptions{}), body: req(nil), status: 401, reason: `expected audience "sigstore"`},
		{name: "untrusted issuer", token: untrusted, body: req(nil), status: 401, reason: "is not trusted by this server"},
		{name: "trusted iss, another issuer's key", token: forged, body: req(nil), status: 401, reason: "no key of the issuer's JWKS verifies the signature"},
		{name: "unpublished key", token: mint(nil, oidcmock.MintOptions{UnpublishedKey: true}), body: req(nil), status: 401, reason: "no key of the issuer's JWKS verifies the signature"},
		{name: "unknown kid", token: mint(nil, oidcmock.MintOptions{KID: "nope"}), body: req(nil), status: 401, reason: `key id "nope" is not in the issuer's JWKS`},
		{name: "algorithm not advertised", token: mint(nil, oidcmock.MintOptions{Algorithm: oidcmock.AlgRS384}), body: req(nil), status: 401, reason: "RS384"},
		{name: "HS256", token: mint(nil, oidcmock.MintOptions{Algorithm: oidcmock.AlgHS256}), body: req(nil), status: 401, reason: `refused algorithm: algorithm "HS256" is refused: accepted are RS256,`},
		{name: "alg none", token: mint(nil, oidcmock.MintOptions{Algorithm: oidcmock.AlgNone}), body: req(nil), status: 401, reason: "refused algorithm"},
		{name: "alg an array", token: unsignedJWT(`{"alg":["RS256"]}`, `{"iss":"x"}`), body: req(nil), status: 401, reason: "its protected header is not a JOSE header of the right JSON types"},
		{name: "kid a number", token: unsignedJWT(`{"alg":"RS256","kid":5}`, `{"iss":"x"}`), body: req(nil), status: 401, reason: "its protected header is not a JOSE header"},
		{name: "header not base64url", token: "e30*.e30.c2ln", body: req(nil), status: 401, reason: "a part is not unpadded base64url: illegal base64 data at input byte 3"},
		{name: "claims an array", token: unsignedJWT(`{"alg":"RS256"}`, `[{"iss":"x"}]`), body: req(nil), status: 401, reason: "identity token claims are malformed: expected a JSON object, got array"},
		{name: "claims not JSON", token: unsignedJWT(`{"alg":"RS256"}`, `iss`), body: req(nil), status: 401, reason: "identity token claims are malformed: invalid JSON at byte 1"},
		{name: "oversized token", token: mint(map[string]any{"padding": strings.Repeat("x", 20<<10)}, oidcmock.MintOptions{}), body: req(nil), status: 401, reason: "over the 16384-byte limit"},
		{name: "basic auth", header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, body: req(nil), status: 401, reason: "Bearer"},
		{name: "bad proof of possession", token: valid, body: req(func(m map[string]any) { m["proofOfPossession"] = key.sign(t, []byte("someone else")) }), status: 400},
		{name: "missing proof of possession", token: valid, body: req(func(m map[string]any) { delete(m, "proofOfPossession") }), status: 400},
		{name: "signature over another digest", token: valid, body: req(func(m map[string]any) { msg(m)["signature"] = key.sign(t, []byte("other")) }), status: 400},
		{name: "P-256 key with a SHA-512 digest", token: valid, body: req(func(m map[string]any) {
			d := sha512.Sum512(artifact)
			sig, err := key.priv.Sign(rand.Reader, d[:], crypto.SHA512)
			if err != nil {
				t.Fatal(err)
			}
			msg(m)["messageDigest"] = map[string]any{"algorithm": "SHA2_512", "digest": d[:]}
			msg(m)["signature"] = sig
		}), status: 400},
		{name: "RSA-PSS signature", token: valid, body: func() map[string]any {
			k := newRSAKey(t, 2048)
			m := signRequest(t, k, sub, artifact)
			d := sha256.Sum256(artifact)
			sig, err := k.priv.Sign(rand.Reader, d[:], &rsa.PSSOptions{Hash: crypto.SHA256})
			if err != nil {
				t.Fatal(err)
			}
			m["messageSignature"].(map[string]any)["signature"] = sig
			return m
		}(), status: 400},
		{name: "RSA 1024 key", token: valid, body: signRequest(t, newRSAKey(t, 1024), sub, artifact), status: 400, reason: "public key is not supported: it is RSA of 1024 bits; use ECDSA P-256"},
		{name: "P-224 key", token: valid, body: signRequest(t, newKey(t, elliptic.P224()), sub, artifact), status: 400, reason: "public key is not supported: it is ECDSA on curve P-224; use"},
		{name: "long digest algorithm", token: valid, body: req(func(m map[string]any) {
			msg(m)["messageDigest"].(map[string]any)["algorithm"] = strings.Repeat("A", 100<<10)
		}), status: 400, reason: "is not supported: use SHA2_256"},
		{name: "long untrusted issuer", token: unsignedJWT(`{"alg":"RS256"}`, `{"iss":"https://`+strings.Repeat("x", 10<<10)+`"}`), body: req(nil), status: 401, reason: "is not trusted by this server"},
		{name: "long sub, proof over another", token: mint(map[string]any{"sub": "repo:acme/widgets:" + strings.Repeat("s", 8<<10)}, oidcmock.MintOptions{}), body: req(nil), status: 400, reason: "proof of possession does not verify"},
		{name: "long kid", token: mint(nil, oidcmock.MintOptions{KID: strings.Repeat("k", 10<<10)}), body: req(nil), status: 401, reason: "is not in the issuer's JWKS"},
		{name: "malformed PEM", token: valid, body: req(func(m map[string]any) {
			m["publicKey"] = map[string]string{"content": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}
		}), status: 400},
		{name: "no public key", token: valid, body: req(func(m map[string]any) { delete(m, "publicKey") }), status: 400},
		{name: "SHA-1 digest", token: valid, body: req(func(m map[string]any) { msg(m)["messageDigest"].(map[string]any)["algorithm"] = "SHA1" }), status: 400},
		{name: "digest length mismatch", token: valid, body: req(func(m map[string]any) { msg(m)["messageDigest"].(map[string]any)["digest"] = []byte("short") }), status: 400},
		{name: "no content", token: valid, body: req(func(m map[string]any) { delete(m, "messageSignature") }), status: 400},
		{name: "two contents", token: valid, body: req(func(m map[string]any) {
			m["dsseEnvelope"] = map[string]any{"payload": []byte("{}"), "payloadType": bundle.InTotoPayloadType, "signatures": []map[string]any{{"sig": []byte("x")}}}
		}), status: 400},
		{name: "malformed JSON", token: valid, raw: `{"publicKey": `, status: 400, reason: "invalid JSON at byte 14: unexpected end of JSON input"},
		{name: "wrong JSON types", token: valid, raw: `{"publicKey": 7}`, status: 400, reason: `field "publicKey": expected a JSON object, got number`},
		{name: "not an object", token: valid, raw: `[{"publicKey": {}}]`, status: 400, reason: "expected a JSON object, got array"},
		{name: "bytes not base64", token: valid, raw: `{"proofOfPossession": "*"}`, status: 400, reason: "illegal base64 data at input byte 0"},
		{name: "empty body", token: valid, raw: ` `, status: 400},
		{name: "body over limit", token: valid, raw: `{"pad":"` + strings.Repeat("a", 600<<10) + `"}`, status: 413},
		{name: "wrong content type", token: valid, header: map[string]string{"Content-Type": "text/plain"}, body: req(nil), status: 415, reason: "send application/json"},
	}
	before := issuedCount(t, env)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.raw
			if tc.body != nil {
				b, err := json.Marshal(tc.body)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			}
			h := map[string]string{"Content-Type": "application/json"}
			if tc.token != "" {
				h["Authorization"] = "Bearer " + tc.token
			}
			for k, v := range tc.header {
				h[k] = v
			}
			resp := env.Do(t, http.MethodPost, "/api/v1/sign", h, strings.NewReader(body))
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			var pb problem.Body
			resp.JSON(t, &pb)
			if pb.Code == "" || pb.Message == "" || strings.Contains(pb.Message, "\n") {
				t.Errorf("want a one-line JSON error, got %q", resp.Body)
			}
			if !strings.Contains(pb.Message, tc.reason) {
				t.Errorf("message %q does not say %q", pb.Message, tc.reason)
			}
			if f := internalDetail(pb.Message); f != "" {
				t.Errorf("message %q shows the server's internals (%q)", pb.Message, f)
			}
			if len(pb.Message) > maxMessage {
				t.Errorf("message of %d bytes, over %d: client input is quoted whole: %.200s...", len(pb.Message), maxMessage, pb.Message)
			}
			if strings.Contains(string(resp.Body), "verificationMaterial") || strings.Contains(string(resp.Body), "CERTIFICATE") {
				t.Errorf("a refused request returned certificate material: %s", resp.Body)
			}
		})
	}
	if after := issuedCount(t, env); after != before {
		t.Errorf("certificates were issued for refused requests: before %q, after %q", before, after)
	}
}

// unsignedJWT is a compact JWS of header and payload, as written, with a
// signature that verifies under no key.
func unsignedJWT(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + enc([]byte("not a signature"))
}

func TestSignDSSE(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	token, _ := githubToken(t, env, nil)
	key := newKey(t, elliptic.P256())
	artifact := []byte("binary")
	digest := sha256.Sum256(artifact)
	stmt := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"binary","digest":{"sha256":"` +
		hex.EncodeToString(digest[:]) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{}}}`
	req := map[string]any{
		"publicKey":         map[string]string{"content": key.pem(t)},
		"proofOfPossession": key.sign(t, []byte(sub)),
		"dsseEnvelope": map[string]any{
			"payload": []byte(stmt), "payloadType": bundle.InTotoPayloadType,
			"signatures": []map[string]any{{"sig": key.sign(t, dsse.PAE(bundle.InTotoPayloadType, []byte(stmt)))}},
		},
	}
	resp := env.PostJSON(t, "/api/v1/sign", token, req)
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	res, err := bundle.Verify(resp.Body, env.App.TrustedRoot(), strings.NewReader(string(artifact)),
		bundle.Identity{SANRegexp: "^https://github.com/acme/widgets/", Issuer: env.GitHub.URL()})
	if err != nil {
		t.Fatalf("sigstore-go refuses the DSSE bundle: %v", err)
	}
	if res.Statement == nil || res.Statement.GetPredicateType() != "https://slsa.dev/provenance/v1" {
		t.Errorf("statement = %v", res.Statement)
	}
}

// TestSignEveryKeyKind signs with each key kind Sigstore clients use, with
// the digest its verifier expects, and checks sigstore-go accepts the bundle.
func TestSignEveryKeyKind(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	token, _ := githubToken(t, env, nil)
	artifact := []byte("artifact for every key kind")
	for _, tc := range []struct {
		name string
		key  testKey
		alg  string
		hash crypto.Hash
	}{
		{"ECDSA P-256", newKey(t, elliptic.P256()), "SHA2_256", crypto.SHA256},
		{"ECDSA P-384", newKey(t, elliptic.P384()), "SHA2_384", crypto.SHA384},
		{"ECDSA P-521", newKey(t, elliptic.P521()), "SHA2_512", crypto.SHA512},
		{"RSA 2048 PKCS #1 v1.5", newRSAKey(t, 2048), "SHA2_256", crypto.SHA256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.hash.New()
			h.Write(artifact)
			digest := h.Sum(nil)
			sig, err := tc.key.priv.Sign(rand.Reader, digest, tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			m := signRequest(t, tc.key, sub, artifact)
			m["messageSignature"] = map[string]any{
				"messageDigest": map[string]any{"algorithm": tc.alg, "digest": digest},
				"signature":     sig,
			}
			resp := env.PostJSON(t, "/api/v1/sign", token, m)
			if resp.Status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			if _, err := bundle.Verify(resp.Body, env.App.TrustedRoot(), strings.NewReader(string(artifact)),
				bundle.Identity{SANRegexp: "^https://github.com/acme/", Issuer: env.GitHub.URL()}); err != nil {
				t.Errorf("sigstore-go refuses the bundle: %v", err)
			}
		})
	}
}

// TestSignWithP256Keys: memory CA and TSA keys on P-256 (key-type) issue
// bundles that sigstore-go verifies, from a P-256 chain.
func TestSignWithP256Keys(t *testing.T) {
	env := harness.Start(t, harness.Options{Configure: func(cfg *config.Config) {
		cfg.CA.KeyType, cfg.TSA.KeyType = config.KeyTypeP256, config.KeyTypeP256
	}})
	token, _ := githubToken(t, env, nil)
	artifact := []byte("p256")
	resp := env.PostJSON(t, "/api/v1/sign", token, signRequest(t, newKey(t, elliptic.P256()), sub, artifact))
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	if _, err := bundle.Verify(resp.Body, env.App.TrustedRoot(), strings.NewReader(string(artifact)),
		bundle.Identity{SANRegexp: "^https://github.com/acme/", Issuer: env.GitHub.URL()}); err != nil {
		t.Fatalf("sigstore-go refuses the bundle: %v", err)
	}
	leaf, err := bundle.LeafCertificate(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("leaf signed with %v, want ECDSA-SHA256 from a P-256 CA key", leaf.SignatureAlgorithm)
	}
}
