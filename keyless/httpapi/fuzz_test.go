package httpapi_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/pki"
	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/keyless"
	"github.com/signet-dev/signet/keyless/client"
	"github.com/signet-dev/signet/test/harness"
	"github.com/signet-dev/signet/test/testclock"
)

// Run one target at a time, e.g.
//
//	go test -run '^$' -fuzz '^FuzzSign$' -fuzztime 30s -parallel 1 ./keyless/httpapi/
//
// or all of them with `make fuzz`.

// clientStatuses are the statuses client input may get from the signing
// endpoints: success, or a client fault. Anything else (a 5xx above all)
// is a server fault the fuzzer reports.
var clientStatuses = map[int]bool{
	http.StatusOK: true, http.StatusCreated: true,
	http.StatusBadRequest: true, http.StatusUnauthorized: true, http.StatusForbidden: true,
	http.StatusRequestEntityTooLarge: true, http.StatusUnsupportedMediaType: true, http.StatusTooManyRequests: true,
}

// fuzzEnv starts the whole stack in process and mints a GitHub token that
// outlives a long fuzzing run (an hour, under every lifetime cap).
func fuzzEnv(f *testing.F) (*harness.Env, string) {
	f.Helper()
	env := harness.Start(f, harness.Options{})
	now := testclock.Now()
	token, _ := githubToken(f, env, map[string]any{
		"iat": now.Unix(), "nbf": now.Add(-5 * time.Second).Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	return env, token
}

// serve posts body as JSON to path through the real handler, in process.
func serve(env *harness.Env, path, token string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	env.App.Handler.ServeHTTP(rec, req)
	return rec
}

// serveChecked posts the JSON of doc to path under the watchdog and
// checks that the answer's status is one a client may get; it returns the
// body sent and the answer, or a nil answer when the server refused it.
func serveChecked(t *testing.T, env *harness.Env, path, token string, doc any) ([]byte, *httptest.ResponseRecorder) {
	t.Helper()
	body := mustJSON(t, doc)
	defer watchdog(body)()
	rec := serve(env, path, token, body)
	checkStatus(t, path, body, rec)
	if rec.Code >= 300 {
		return body, nil
	}
	return body, rec
}

// checkStatus fails on a status client input must never get, and on a
// refusal that shows the server's internals.
func checkStatus(t *testing.T, path string, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if !clientStatuses[rec.Code] {
		t.Fatalf("%s answered %d to %q: %s", path, rec.Code, body, rec.Body)
	}
	if rec.Code >= 300 {
		// (A fragment the input itself carries may be quoted back.)
		if f := internalDetail(rec.Body.String()); f != "" && !strings.Contains(string(body), f) {
			t.Fatalf("%s answered %q with the server's internals (%q): %s", path, body, f, rec.Body)
		}
	}
}

// watchdog crashes the fuzz worker when one input runs longer than limit,
// so that the fuzzer saves that input as a failure: a hang is a finding
// too (the Go fuzzer has no per-input timeout of its own). Use it as
// defer watchdog(input)().
func watchdog(input any) func() bool {
	const limit = 20 * time.Second
	return time.AfterFunc(limit, func() {
		panic(fmt.Sprintf("fuzz: one input ran over %s: %q", limit, input))
	}).Stop
}

// mustJSON marshals v.
func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// csrOf makes a DER PKCS #10 request signed by key.
func csrOf(tb testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	tb.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// sameKey reports whether a certificate certifies want.
func sameKey(cert *x509.Certificate, want crypto.PublicKey) bool {
	return pki.SamePublicKey(cert.PublicKey, want)
}

// FuzzAPIBodies sends arbitrary bodies, with a valid token, to every
// endpoint that parses untrusted JSON: no input may panic or get a status
// other than success or a client fault.
//
//	go test -run '^$' -fuzz '^FuzzAPIBodies$' -fuzztime 30s -parallel 1 ./keyless/httpapi/
func FuzzAPIBodies(f *testing.F) {
	env, token := fuzzEnv(f)
	key := newKey(f, elliptic.P256())
	proof := key.sign(f, []byte(sub))
	for _, seed := range [][]byte{
		mustJSON(f, signRequest(f, key, sub, []byte("a"))),
		mustJSON(f, map[string]any{"publicKeyRequest": map[string]any{"publicKey": map[string]string{"algorithm": "ECDSA", "content": key.pem(f)}, "proofOfPossession": proof}}),
		mustJSON(f, map[string]any{"certificateSigningRequest": pemOf("CERTIFICATE REQUEST", csrOf(f, key.priv, nil))}),
		mustJSON(f, map[string]any{"publicKey": map[string]string{"content": base64.StdEncoding.EncodeToString([]byte(key.pem(f)))}, "signedEmailAddress": base64.StdEncoding.EncodeToString(proof)}),
		[]byte(`{}`), []byte(`[]`), []byte(`null`), []byte(`{"publicKey":{"content":"-----BEGIN PUBLIC KEY-----\nMA==\n-----END PUBLIC KEY-----"}}`),
		[]byte(`{"dsseEnvelope":{"signatures":[]}}`), []byte(`{"publicKeyRequest":{}}`), []byte(`{"certificateSigningRequest":"AAAA"}`),
		[]byte(`{"publicKey":{"content":"AAAA"},"signedEmailAddress":"%%"}`), []byte(`{"credentials":{"oidcIdentityToken":"a.b.c"}}`),
		[]byte(`{"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"!!"}}}`), []byte(`{"proofOfPossession":7}`),
	} {
		f.Add(string(seed))
	}
	paths := []string{"/api/v1/sign", "/api/v2/signingCert", "/api/v1/signingCert"}
	f.Fuzz(func(t *testing.T, body string) {
		defer watchdog(body)()
		for _, path := range paths {
			checkStatus(t, path, []byte(body), serve(env, path, token, []byte(body)))
		}
	})
}

// FuzzParsePublicKey feeds arbitrary key material to the parser of a
// client's public key (PEM, or base64 of PEM): it either returns a
// supported key or a 400, never panics. An accepted key re-encodes, as PEM
// and as base64 of PEM, to the same key.
//
//	go test -run '^$' -fuzz '^FuzzParsePublicKey$' -fuzztime 30s -parallel 1 ./keyless/httpapi/
func FuzzParsePublicKey(f *testing.F) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	for _, k := range []testKey{newKey(f, elliptic.P256()), newKey(f, elliptic.P384()), newKey(f, elliptic.P521()), newRSAKey(f, 2048), {priv: edKey}, {priv: p224}} {
		pemKey := k.pem(f)
		der, _ := pem.Decode([]byte(pemKey))
		f.Add(pemKey)
		f.Add(base64.StdEncoding.EncodeToString([]byte(pemKey)))
		f.Add(string(der.Bytes))                                         // bare DER: refused
		f.Add(base64.StdEncoding.EncodeToString(der.Bytes))              // base64 DER: refused
		f.Add("  " + pemKey + "\n\n")                                    // surrounding blanks
		f.Add(strings.Replace(pemKey, "PUBLIC KEY", "EC PUBLIC KEY", 2)) // other PEM type
	}
	f.Add(newRSAKey(f, 1024).pem(f))
	f.Add("-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----\n")
	f.Add("-----BEGIN PUBLIC KEY-----\nMA==\n-----END PUBLIC KEY-----\n")
	f.Add("not base64 ###")
	f.Add("")
	f.Fuzz(func(t *testing.T, content string) {
		defer watchdog(content)()
		pub, err := keyless.ParsePublicKey(content)
		if err != nil {
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest {
				t.Fatalf("refusal of %q is not a 400: %v", content, err)
			}
			return
		}
		if cerr := keyless.CheckKey(pub); cerr != nil {
			t.Fatalf("accepted a key CheckKey refuses: %v", cerr)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatalf("accepted %q, whose key does not encode: %v", content, err)
		}
		for _, again := range []string{string(pemOf("PUBLIC KEY", der)), base64.StdEncoding.EncodeToString(pemOf("PUBLIC KEY", der))} {
			back, err := keyless.ParsePublicKey(again)
			if err != nil || !pki.SamePublicKey(back, pub) {
				t.Fatalf("accepted %q, but its re-encoding %q parses to another key (%v)", content, again, err)
			}
		}
	})
}

// FuzzSigningCertV1 sends Fulcio v1 bodies (POST /api/v1/signingCert) built
// from an arbitrary key content and signedEmailAddress, with a valid
// token: the status must be success or a client fault; a 201 must carry a
// PEM chain whose leaf certifies the key sent.
//
//	go test -run '^$' -fuzz '^FuzzSigningCertV1$' -fuzztime 30s -parallel 1 ./keyless/httpapi/
func FuzzSigningCertV1(f *testing.F) {
	env, token := fuzzEnv(f)
	for _, k := range []testKey{newKey(f, elliptic.P256()), newKey(f, elliptic.P384()), newRSAKey(f, 2048)} {
		proof := base64.StdEncoding.EncodeToString(k.sign(f, []byte(sub)))
		f.Add(base64.StdEncoding.EncodeToString([]byte(k.pem(f))), proof)
		f.Add(k.pem(f), proof)
		f.Add(k.pem(f), "  "+proof+"\n")
		f.Add(k.pem(f), base64.StdEncoding.EncodeToString([]byte("not a signature")))
	}
	f.Add("", "")
	f.Add("AAAA", "%%")
	const path = "/api/v1/signingCert"
	f.Fuzz(func(t *testing.T, content, signedEmail string) {
		body := mustJSON(t, map[string]any{"publicKey": map[string]string{"algorithm": "ecdsa", "content": content}, "signedEmailAddress": signedEmail})
		defer watchdog(body)()
		rec := serve(env, path, token, body)
		checkStatus(t, path, body, rec)
		if rec.Code >= 300 {
			return
		}
		certs, err := pki.ParseCertificatesPEM(rec.Body.Bytes())
		if rec.Code != http.StatusCreated || err != nil || len(certs) < 2 {
			t.Fatalf("%d to %q: not a PEM chain (%v): %s", rec.Code, body, err, rec.Body)
		}
		pub, err := keyless.ParsePublicKey(content)
		if err != nil || !sameKey(certs[0], pub) {
			t.Fatalf("%q: the certificate is not over the key sent (%v)", body, err)
		}
	})
}

// FuzzSigningCertV2 sends Fulcio v2 bodies (POST /api/v2/signingCert)
// built from an arbitrary CSR (sent when not empty) and an arbitrary key
// request (sent when it has a key or a proof), with a valid token: the
// status must be success or a client fault; a 200 must carry a chain whose
// leaf certifies the CSR's key or the key sent.
//
//	go test -run '^$' -fuzz '^FuzzSigningCertV2$' -fuzztime 30s -parallel 1 ./keyless/httpapi/
func FuzzSigningCertV2(f *testing.F) {
	env, token := fuzzEnv(f)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	for _, k := range []testKey{newKey(f, elliptic.P256()), newKey(f, elliptic.P521()), newRSAKey(f, 2048), {priv: edKey}, {priv: p224}} {
		der := csrOf(f, k.priv, nil)
		f.Add(pemOf("CERTIFICATE REQUEST", der), "", []byte(nil))
		f.Add(der, "", []byte(nil))
		if _, ok := k.priv.(ed25519.PrivateKey); !ok {
			f.Add([]byte(nil), k.pem(f), k.sign(f, []byte(sub)))
		}
	}
	k := newKey(f, elliptic.P256())
	u, _ := url.Parse("https://example.com/a")
	rich := csrOf(f, k.priv, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "x", Organization: []string{"acme"}}, DNSNames: []string{"a.example.com"},
		EmailAddresses: []string{"dev@example.com"}, URIs: []*url.URL{u},
		ExtraExtensions: []pkix.Extension{{Id: []int{1, 3, 6, 1, 4, 1, 57264, 1, 1}, Value: []byte("https://evil.example.com")}},
	})
	f.Add(pemOf("CERTIFICATE REQUEST", rich), "", []byte(nil))
	tampered := csrOf(f, k.priv, nil)
	tampered[len(tampered)-5] ^= 0xff
	f.Add(tampered, "", []byte(nil))
	f.Add(pemOf("CERTIFICATE", csrOf(f, k.priv, nil)), k.pem(f), k.sign(f, []byte(sub)))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END CERTIFICATE REQUEST-----\n"), "", []byte(nil))
	f.Add([]byte{0x30, 0x00}, "", []byte(nil))
	f.Add([]byte(nil), k.pem(f), []byte(nil))
	f.Add([]byte(nil), "", []byte(nil))
	const path = "/api/v2/signingCert"
	f.Fuzz(func(t *testing.T, csr []byte, content string, proof []byte) {
		doc := map[string]any{}
		if len(csr) > 0 {
			doc["certificateSigningRequest"] = csr
		}
		if content != "" || len(proof) > 0 {
			doc["publicKeyRequest"] = map[string]any{"publicKey": map[string]string{"algorithm": "ECDSA", "content": content}, "proofOfPossession": proof}
		}
		body, rec := serveChecked(t, env, path, token, doc)
		if rec == nil {
			return
		}
		certs, err := client.SigningCertChain(rec.Body.Bytes())
		if err != nil || len(certs) < 2 {
			t.Fatalf("%q: 200 without a parsable chain (%v): %s", body, err, rec.Body)
		}
		var want crypto.PublicKey
		if len(csr) > 0 {
			data := csr
			if block, _ := pem.Decode(csr); block != nil {
				data = block.Bytes
			}
			req, err := x509.ParseCertificateRequest(data)
			if err != nil {
				t.Fatalf("%q: certified a CSR that does not parse: %v", body, err)
			}
			want = req.PublicKey
		} else if want, err = keyless.ParsePublicKey(content); err != nil {
			t.Fatalf("%q: certified a key that does not parse: %v", body, err)
		}
		if !sameKey(certs[0], want) {
			t.Fatalf("%q: the certificate is not over the key sent", body)
		}
	})
}
