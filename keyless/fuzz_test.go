package keyless_test

import (
	"crypto/elliptic"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signet-dev/signet/keyless"
	"github.com/signet-dev/signet/test/harness"
)

// FuzzAPIBodies sends arbitrary bodies, with a valid token, to every
// endpoint that parses untrusted JSON: no input may panic or get a 5xx.
//
//	go test -run '^$' -fuzz FuzzAPIBodies -fuzztime 30s ./keyless/
func FuzzAPIBodies(f *testing.F) {
	env := harness.Start(f, harness.Options{})
	token, _ := githubToken(f, env, nil)
	valid, err := json.Marshal(signRequest(f, newKey(f, elliptic.P256()), sub, []byte("a")))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(valid), `{}`, `[]`, `null`, `{"publicKey":{"content":"-----BEGIN PUBLIC KEY-----\nMA==\n-----END PUBLIC KEY-----"}}`,
		`{"dsseEnvelope":{"signatures":[]}}`, `{"publicKeyRequest":{}}`, `{"certificateSigningRequest":"AAAA"}`, `{"publicKey":{"content":"AAAA"},"signedEmailAddress":"%%"}`} {
		f.Add(seed)
	}
	paths := []string{"/api/v1/sign", "/api/v2/signingCert", "/api/v1/signingCert"}
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range paths {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			env.App.Handler.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s answered %d to %q: %s", path, rec.Code, body, rec.Body)
			}
		}
	})
}

// FuzzParsePublicKey feeds arbitrary key material to the key parser: it
// either returns a supported key or a 400, never panics.
func FuzzParsePublicKey(f *testing.F) {
	f.Add(newKey(f, elliptic.P256()).pem(f))
	f.Add("-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----\n")
	f.Add("not base64 ###")
	f.Fuzz(func(t *testing.T, content string) {
		pub, err := keyless.ParsePublicKey(content)
		if err == nil {
			if cerr := keyless.CheckKey(pub); cerr != nil {
				t.Fatalf("accepted a key CheckKey refuses: %v", cerr)
			}
		}
	})
}
