package httpapi_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/keyless"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/oidcmock"
	"github.com/signet-dev/signet/test/testclock"
)

// FuzzSign sends one-shot bodies (POST /api/v1/sign) built from arbitrary
// fields, with a valid token: mode bit 0 sends a messageSignature, bit 1 a
// dsseEnvelope. The status must be success or a client fault; a 200 must
// be a bundle whose certificate certifies the key sent.
//
//	go test -run '^$' -fuzz '^FuzzSign$' -fuzztime 30s -parallel 1 ./keyless/httpapi/
func FuzzSign(f *testing.F) {
	env, token := fuzzEnv(f)
	const payloadType = "application/vnd.in-toto+json"
	payload := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	for _, k := range []testKey{newKey(f, elliptic.P256()), newKey(f, elliptic.P384()), newRSAKey(f, 2048)} {
		artifact := []byte("release artifact v1.2.0\n")
		hash, alg := crypto.SHA256, "SHA2_256"
		if ek, ok := k.priv.Public().(*ecdsa.PublicKey); ok && ek.Curve == elliptic.P384() {
			hash, alg = crypto.SHA384, "SHA2_384"
		}
		h := hash.New()
		h.Write(artifact)
		digest := h.Sum(nil)
		proof := k.sign(f, []byte(sub))
		f.Add(k.pem(f), proof, uint8(1), alg, digest, k.sign(f, artifact), "", []byte(nil), []byte(nil))
		f.Add(k.pem(f), proof, uint8(2), "", []byte(nil), []byte(nil), payloadType, payload, k.sign(f, dsse.PAE(payloadType, payload)))
		f.Add(k.pem(f), proof, uint8(3), alg, digest, k.sign(f, artifact), payloadType, payload, k.sign(f, dsse.PAE(payloadType, payload)))
	}
	k := newKey(f, elliptic.P256())
	d := sha256.Sum256([]byte("x"))
	f.Add(k.pem(f), k.sign(f, []byte(sub)), uint8(1), "SHA2_512", d[:], k.sign(f, []byte("x")), "", []byte(nil), []byte(nil))
	f.Add(k.pem(f), k.sign(f, []byte(sub)), uint8(1), "SHA2_256", d[:5], []byte(nil), "", []byte(nil), []byte(nil))
	f.Add(k.pem(f), []byte(nil), uint8(0), "", []byte(nil), []byte(nil), "", []byte(nil), []byte(nil))
	f.Add("", []byte(nil), uint8(2), "", []byte(nil), []byte(nil), "", []byte(nil), []byte(nil))
	const path = "/api/v1/sign"
	f.Fuzz(func(t *testing.T, content string, proof []byte, mode uint8, alg string, digest, sig []byte, pt string, pl, dsseSig []byte) {
		doc := map[string]any{"publicKey": map[string]string{"content": content}, "proofOfPossession": proof}
		if mode&1 != 0 {
			doc["messageSignature"] = map[string]any{"messageDigest": map[string]any{"algorithm": alg, "digest": digest}, "signature": sig}
		}
		if mode&2 != 0 {
			sigs := []map[string]any{{"sig": dsseSig, "keyid": ""}}
			if mode&4 != 0 {
				sigs = append(sigs, sigs[0])
			}
			doc["dsseEnvelope"] = map[string]any{"payload": pl, "payloadType": pt, "signatures": sigs}
		}
		body, rec := serveChecked(t, env, path, token, doc)
		if rec == nil {
			return
		}
		if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusOK || ct != bundle.MediaType {
			t.Fatalf("%q: %d with Content-Type %q", body, rec.Code, ct)
		}
		leaf, err := bundle.LeafCertificate(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("%q: 200 with a bundle that does not parse: %v\n%s", body, err, rec.Body)
		}
		pub, err := keyless.ParsePublicKey(content)
		if err != nil || !sameKey(leaf, pub) {
			t.Fatalf("%q: the bundle's certificate is not over the key sent (%v)", body, err)
		}
	})
}

// FuzzBearerToken sends a valid one-shot body with an arbitrary identity
// token, in the Authorization header (inHeader) or in the body's
// credentials, to the real handler, whose trusted GitHub issuer is a live
// mock: the token goes through the unverified parsing, discovery, the JWKS
// and go-oidc's verification. The status must be success or a client
// fault, and only a token the issuer really signed may succeed.
//
//	go test -run '^$' -fuzz '^FuzzBearerToken$' -fuzztime 30s -parallel 1 ./keyless/httpapi/
func FuzzBearerToken(f *testing.F) {
	env, token := fuzzEnv(f)
	other := harness.StartIssuer(f)
	now := testclock.Now()
	claims := func(edit map[string]any) map[string]any {
		c := oidcmock.GitHubClaims("acme/widgets")
		c["iat"], c["nbf"], c["exp"] = now.Unix(), now.Add(-5*time.Second).Unix(), now.Add(time.Hour).Unix()
		for k, v := range edit {
			c[k] = v
		}
		return c
	}
	mint := func(iss *oidcmock.Issuer, c map[string]any, opts oidcmock.MintOptions) string {
		tok, err := iss.MintWith(c, opts)
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	seeds := []string{
		token,
		mint(env.GitHub, claims(nil), oidcmock.MintOptions{Algorithm: oidcmock.AlgRS384}),
		mint(env.GitHub, claims(nil), oidcmock.MintOptions{Algorithm: oidcmock.AlgHS256}),
		mint(env.GitHub, claims(nil), oidcmock.MintOptions{Algorithm: oidcmock.AlgNone}),
		mint(env.GitHub, claims(nil), oidcmock.MintOptions{KID: "unknown"}),
		mint(env.GitHub, claims(nil), oidcmock.MintOptions{UnpublishedKey: true}),
		mint(env.GitHub, claims(map[string]any{"aud": "other"}), oidcmock.MintOptions{}),
		mint(env.GitHub, claims(map[string]any{"sub": 7}), oidcmock.MintOptions{}),
		mint(env.GitHub, claims(map[string]any{"exp": now.Add(-time.Hour).Unix()}), oidcmock.MintOptions{}),
		mint(env.GitHub, claims(map[string]any{"exp": "tomorrow"}), oidcmock.MintOptions{}),
		mint(env.GitHub, claims(map[string]any{"job_workflow_ref": "a\u202eb"}), oidcmock.MintOptions{}),
		mint(other, claims(nil), oidcmock.MintOptions{}),
		mint(other, claims(map[string]any{"iss": env.GitHub.URL()}), oidcmock.MintOptions{}),
		"", "a.b.c", "Bearer", strings.Repeat("A", 17<<10),
	}
	for _, s := range seeds {
		f.Add(true, s)
		f.Add(false, s)
	}
	key := newKey(f, elliptic.P256())
	doc := signRequest(f, key, sub, []byte("artifact"))
	const path = "/api/v1/sign"
	f.Fuzz(func(t *testing.T, inHeader bool, tok string) {
		defer watchdog(tok)()
		bodyToken, headerToken := tok, ""
		if inHeader {
			bodyToken, headerToken = "", tok
		}
		d := map[string]any{"credentials": map[string]string{"oidcIdentityToken": bodyToken}}
		for k, v := range doc {
			d[k] = v
		}
		body := mustJSON(t, d)
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if inHeader {
			req.Header.Set("Authorization", "Bearer "+headerToken)
		}
		rec := httptest.NewRecorder()
		env.App.Handler.ServeHTTP(rec, req)
		checkStatus(t, path, []byte(tok), rec)
		if rec.Code == http.StatusOK && !sameJWS(tok, token) {
			t.Fatalf("a token the issuer did not sign was accepted: %q", tok)
		}
	})
}

// sameJWS reports whether two compact JWS carry the same header, payload
// and signature bytes (padding and surrounding blanks aside).
func sameJWS(a, b string) bool {
	pa, pb := strings.Split(strings.TrimSpace(a), "."), strings.Split(strings.TrimSpace(b), ".")
	if len(pa) != 3 || len(pb) != 3 {
		return false
	}
	for i := range pa {
		da, errA := base64.RawURLEncoding.DecodeString(strings.TrimRight(pa[i], "="))
		db, errB := base64.RawURLEncoding.DecodeString(strings.TrimRight(pb[i], "="))
		if errA != nil || errB != nil || string(da) != string(db) {
			return false
		}
	}
	return true
}
